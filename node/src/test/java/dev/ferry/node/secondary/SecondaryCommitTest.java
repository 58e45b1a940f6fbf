package dev.ferry.node.secondary;

import static dev.ferry.node.secondary.SecondarySite.at;
import static dev.ferry.node.secondary.SecondarySite.failure;
import static dev.ferry.node.secondary.SecondarySite.portion;
import static dev.ferry.node.secondary.SecondarySite.update;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.control.Portion;
import dev.ferry.proto.secondary.StagedUpdate;
import dev.ferry.proto.secondary.StatusReply;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Commit applies epochs in order, atomically; Read shows applied epochs only. */
class SecondaryCommitTest {
  private static final Portion A0 = new Portion("a", 0);
  private static final Portion A2 = new Portion("a", 2);
  private static final Portion B0 = new Portion("b", 0);
  private static final StagedUpdate E1_A0 = update(1, at(0, 100), 300);
  private static final StagedUpdate E1_A2 = update(1, at(2, 0), 64);
  private static final StagedUpdate E2_A0 = update(1, at(0, 200), 50);

  @TempDir Path dir;
  private SecondarySite site;

  @BeforeEach
  void open() throws IOException {
    site = SecondarySite.open(dir);
  }

  @AfterEach
  void close() {
    site.close();
  }

  private void stageEpochs1And2() {
    site.stage(portion(1, A0, E1_A0));
    site.stage(portion(1, A2, E1_A2));
    site.stage(portion(2, A0, E2_A0));
  }

  private byte[] readUpdate(StagedUpdate u) {
    return site.read("a", u.getOffset(), u.getData().size());
  }

  @Test
  void epochsApplyInOrderAndReadShowsOnlyAppliedEpochs() throws IOException {
    stageEpochs1And2();
    assertThat(readUpdate(E1_A0)).as("staged, not applied").containsOnly(0);

    assertThat(site.commit(1, A0, A2)).isEqualTo(1);
    assertThat(readUpdate(E1_A0)).isEqualTo(E1_A0.getData().toByteArray());
    assertThat(readUpdate(E1_A2)).isEqualTo(E1_A2.getData().toByteArray());
    assertThat(site.read("a", at(1, 0), 4096)).as("never written").containsOnly(0);
    // epoch 2 overwrites part of epoch 1's update; not visible before it is applied
    assertThat(site.read("a", E2_A0.getOffset(), 50))
        .isEqualTo(E1_A0.getData().substring(100, 150).toByteArray());

    assertThat(site.commit(2, A0)).isEqualTo(2);
    assertThat(site.read("a", E2_A0.getOffset(), 50)).isEqualTo(E2_A0.getData().toByteArray());
    StatusReply s = site.status();
    assertThat(s.getAppliedEpoch()).isEqualTo(2);
    assertThat(s.getAppliedClosedAtMillis()).isEqualTo(SecondarySite.closedAt(2));
    assertThat(s.getStagedEpochsList()).isEmpty();
    try (var left = Files.list(dir.resolve(SecondaryStore.STAGING_DIR))) {
      assertThat(left).as("staging of applied epochs").isEmpty();
    }
  }

  @Test
  void withinAPortionTheUpdatesApplyInAscendingN() {
    StagedUpdate first = update(1, at(0, 0), 100);
    StagedUpdate second = update(2, at(0, 50), 100);
    site.stage(portion(1, A0, first, second));
    site.commit(1, A0);

    assertThat(site.read("a", 0, 50)).isEqualTo(first.getData().substring(0, 50).toByteArray());
    assertThat(site.read("a", 50, 100)).isEqualTo(second.getData().toByteArray());
  }

  @Test
  void aCommitOutOfOrderIsRefused() {
    site.stage(portion(1, A0, E1_A0));
    site.stage(portion(3, A0, E2_A0));
    assertThat(site.commit(1, A0)).as("a fresh store starts at the first epoch it is given")
        .isEqualTo(1);
    Status s = failure(() -> site.commit(3, A0));

    assertThat(s.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(s.getDescription()).contains("epoch 3 cannot be applied before epoch 2");
    assertThat(site.status().getAppliedEpoch()).isEqualTo(1);
    assertThat(readUpdate(E1_A0)).as("only epoch 1 is in the image").isEqualTo(
        E1_A0.getData().toByteArray());
  }

  @Test
  void aCommitWithAnExpectedPortionNotStagedIsRefusedNamingIt() {
    stageEpochs1And2();
    Status s = failure(() -> site.commit(1, A0, A2, B0));

    assertThat(s.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(s.getDescription()).isEqualTo("portion b/0 of epoch 1 is not staged");
    assertThat(site.status().getAppliedEpoch()).isZero();
    assertThat(readUpdate(E1_A0)).containsOnly(0);

    site.stage(portion(1, B0, update(1, 0, 10)));
    assertThat(site.commit(1, A0, A2, B0)).isEqualTo(1);
    assertThat(site.read("b", 0, 10)).isEqualTo(update(1, 0, 10).getData().toByteArray());
  }

  @Test
  void committingAnAppliedEpochAgainAnswersTheAppliedEpoch() throws IOException {
    stageEpochs1And2();
    site.commit(1, A0, A2);
    site.commit(2, A0);

    assertThat(site.commit(1, A0, A2)).isEqualTo(2);
    assertThat(site.commit(2, A0)).isEqualTo(2);
    site.restart();
    assertThat(site.commit(2, A0)).isEqualTo(2);
    assertThat(site.read("a", E2_A0.getOffset(), 50)).isEqualTo(E2_A0.getData().toByteArray());
  }

  @Test
  void stagingTheNextEpochWhileOneIsAppliedAndOnlyExpectedPortionsApply() {
    site.stage(portion(1, A0, E1_A0));
    site.commit(1, A0);
    site.stage(portion(2, A0, E2_A0));
    site.stage(portion(2, A2, update(1, at(2, 0), 64)));

    site.commit(2, A0);
    assertThat(readUpdate(E2_A0)).isEqualTo(E2_A0.getData().toByteArray());
    assertThat(site.read("a", at(2, 0), 64)).as("a staged portion not expected").containsOnly(0);
    assertThat(failure(() -> site.stage(portion(2, A0, E2_A0))).getDescription())
        .contains("epoch 2 is applied already");
  }

  @Test
  void readIsBoundsChecked() {
    site.stage(portion(1, A0, E1_A0));
    Status unknown = failure(() -> site.read("zz", 0, 1));
    assertThat(unknown.getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(unknown.getDescription()).contains("volume 'zz'");

    Status past = failure(() -> site.read("a", SecondarySite.VOLUME_BYTES - 10, 11));
    assertThat(past.getCode()).isEqualTo(Status.Code.OUT_OF_RANGE);
    assertThat(past.getDescription()).contains("offset " + (SecondarySite.VOLUME_BYTES - 10))
        .contains("length 11");
    assertThat(failure(() -> site.read("a", -1, 1)).getCode()).isEqualTo(Status.Code.OUT_OF_RANGE);
    Status length = failure(() -> site.read("a", 0, SecondaryStore.MAX_READ_BYTES + 1));
    assertThat(length.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(length.getDescription()).contains("length");
    assertThat(site.read("a", SecondarySite.VOLUME_BYTES - 10, 10)).containsOnly(0);
  }
}
