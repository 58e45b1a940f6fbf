package dev.ferry.node.secondary;

import static dev.ferry.node.secondary.SecondarySite.at;
import static dev.ferry.node.secondary.SecondarySite.failure;
import static dev.ferry.node.secondary.SecondarySite.portion;
import static dev.ferry.node.secondary.SecondarySite.update;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.ferry.control.Portion;
import dev.ferry.proto.secondary.PortionWatermark;
import dev.ferry.proto.secondary.StageReply;
import dev.ferry.proto.secondary.StageRequest;
import dev.ferry.proto.secondary.StagedUpdate;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Stage: a portion that matches its watermark is kept durably; anything else, nothing. */
class SecondaryStageTest {
  private static final Portion V0 = new Portion("v", 0);
  private static final StagedUpdate[] UPDATES = {
      update(1, at(0, 0), 512), update(2, at(0, 4096), 100), update(4, at(0, 0), 8)};

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

  /** Nothing staged, no image created, no file left in the staging area. */
  private void assertNothingKept() throws IOException {
    assertThat(site.status().getStagedEpochsList()).isEmpty();
    assertThat(site.status().getVolumesList()).isEmpty();
    try (Stream<Path> files = Files.walk(dir.resolve(SecondaryStore.STAGING_DIR))) {
      assertThat(files.filter(Files::isRegularFile)).isEmpty();
    }
  }

  @Test
  void aMatchingPortionIsStagedDurablyAndAnsweredWithCountAndDigest() throws IOException {
    List<StageRequest> stream = portion(3, V0, UPDATES);
    StageReply reply = site.stage(stream);

    PortionWatermark w = stream.get(stream.size() - 1).getWatermark();
    assertThat(reply.getCount()).isEqualTo(3);
    assertThat(reply.getDigest()).isEqualTo(w.getDigest());
    site.restart();
    assertThat(site.status().getStagedEpochsList()).containsExactly(3L);
    assertThat(site.status().getVolumesList()).containsExactly("v");
    assertThat(site.status().getAppliedEpoch()).isZero();
  }

  @Test
  void stagingAnIdenticalPortionAgainIsFineAndAnotherOneIsRefused() throws IOException {
    site.stage(portion(1, V0, UPDATES));
    assertThat(site.stage(portion(1, V0, UPDATES)).getCount()).isEqualTo(3);

    Status s = failure(() -> site.stage(portion(1, V0, update(1, at(0, 0), 512))));
    assertThat(s.getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(s.getDescription()).contains("portion v/0 of epoch 1").contains("count 1");
  }

  @Test
  void aBadCrcIsDataLossAndNothingIsKept() throws IOException {
    StagedUpdate bad = update(2, at(0, 4096), 100).toBuilder().setData(ByteString.copyFrom(
        SecondarySite.data(99, 100))).build();
    Status s = failure(() -> site.stage(portion(1, V0, UPDATES[0], bad)));

    assertThat(s.getCode()).isEqualTo(Status.Code.DATA_LOSS);
    assertThat(s.getDescription()).contains("portion v/0 of epoch 1").contains("update n=2")
        .contains("crc32c");
    assertNothingKept();
  }

  @Test
  void updatesOutOfOrderAreRefusedAndNothingIsKept() throws IOException {
    Status s = failure(() -> site.stage(portion(1, V0, UPDATES[1], UPDATES[0], UPDATES[2])));

    assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(s.getDescription()).contains("portion v/0 of epoch 1").contains("ascending n");
    assertNothingKept();
  }

  static Stream<Arguments> tamperedWatermarks() {
    return Stream.of(
        Arguments.of("count", (UnaryOperator<PortionWatermark.Builder>) w -> w.setCount(4),
            "count 3, watermark says 4"),
        Arguments.of("bytes", (UnaryOperator<PortionWatermark.Builder>) w -> w.setBytes(619),
            "bytes 620, watermark says 619"),
        Arguments.of("last_n", (UnaryOperator<PortionWatermark.Builder>) w -> w.setLastN(5),
            "last_n 4, watermark says 5"),
        Arguments.of("digest", (UnaryOperator<PortionWatermark.Builder>) w -> w.setDigest(
            ByteString.copyFrom(new byte[32])), "watermark says " + "00".repeat(32)));
  }

  @ParameterizedTest(name = "wrong {0}")
  @MethodSource("tamperedWatermarks")
  void aPortionNotMatchingItsWatermarkIsDataLossNamingWhatDiffers(String field,
      UnaryOperator<PortionWatermark.Builder> tamper, String says) throws IOException {
    Status s = failure(() -> site.stage(portion(2, new Portion("v", 3), tamper,
        update(1, at(3, 0), 512), update(2, at(3, 4096), 100), update(4, at(3, 0), 8))));

    assertThat(s.getCode()).isEqualTo(Status.Code.DATA_LOSS);
    assertThat(s.getDescription())
        .startsWith("portion v/3 of epoch 2: does not match its watermark").contains(says);
    assertNothingKept();
  }

  @Test
  void malformedStreamsAreRefusedNamingTheField() throws IOException {
    List<StageRequest> noWatermark = new ArrayList<>(portion(1, V0, UPDATES));
    noWatermark.remove(noWatermark.size() - 1);
    assertThat(failure(() -> site.stage(noWatermark)).getDescription())
        .contains("ended without a watermark");

    List<StageRequest> afterWatermark = new ArrayList<>(portion(1, V0, UPDATES));
    afterWatermark.add(afterWatermark.get(0));
    assertThat(failure(() -> site.stage(afterWatermark)).getDescription())
        .contains("after the watermark");

    Status outside = failure(() -> site.stage(portion(1, V0,
        update(1, SecondarySite.VOLUME_BYTES - 4, 8))));
    assertThat(outside.getCode()).isEqualTo(Status.Code.OUT_OF_RANGE);
    assertThat(outside.getDescription()).contains("offset " + (SecondarySite.VOLUME_BYTES - 4));

    Status badName = failure(() -> site.stage(portion(1, new Portion("../x", 0), UPDATES)));
    assertThat(badName.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(badName.getDescription()).contains("'../x' is not a volume name");
    assertNothingKept();
  }
}
