package dev.ferry.node.secondary;

import static dev.ferry.node.secondary.SecondarySite.failure;
import static dev.ferry.node.secondary.SecondarySite.portion;
import static dev.ferry.node.secondary.SecondarySite.update;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.control.Portion;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Failover leaves the images at the applied epoch for good, across restarts. */
class SecondaryFailoverTest {
  private static final Portion P = new Portion("v", 0);

  @TempDir Path dir;
  private SecondarySite site;

  @BeforeEach
  void open() throws IOException {
    site = SecondarySite.open(dir);
    site.stage(portion(1, P, update(1, 0, 100)));
    site.commit(1, P);
    site.stage(portion(2, P, update(1, 0, 100)));
    site.stage(portion(3, P, update(1, 50, 100)));
  }

  @AfterEach
  void close() {
    site.close();
  }

  private void assertRefusesStageAndCommit() {
    for (Runnable call : new Runnable[] {
        () -> site.stage(portion(4, P, update(1, 0, 10))), () -> site.commit(2, P)}) {
      Status s = failure(call);
      assertThat(s.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(s.getDescription()).isEqualTo("failed over at epoch 1");
    }
  }

  @Test
  void failoverDiscardsLaterStagingAndRefusesStageAndCommitAcrossARestart() throws IOException {
    assertThat(site.failover()).as("discarded epochs").isEqualTo(2);

    assertRefusesStageAndCommit();
    assertThat(site.status().getFailedOver()).isTrue();
    assertThat(site.status().getStagedEpochsList()).isEmpty();
    try (var left = Files.list(dir.resolve(SecondaryStore.STAGING_DIR))) {
      assertThat(left).isEmpty();
    }
    assertThat(site.read("v", 0, 100)).isEqualTo(update(1, 0, 100).getData().toByteArray());
    assertThat(site.failover()).as("again: nothing more to discard").isZero();

    site.restart();
    assertThat(site.status().getFailedOver()).isTrue();
    assertThat(site.status().getAppliedEpoch()).isEqualTo(1);
    assertRefusesStageAndCommit();
    assertThat(site.read("v", 0, 100)).isEqualTo(update(1, 0, 100).getData().toByteArray());
  }
}
