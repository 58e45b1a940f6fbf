package dev.ferry.node.secondary;

import static dev.ferry.node.secondary.SecondarySite.at;
import static dev.ferry.node.secondary.SecondarySite.closedAt;
import static dev.ferry.node.secondary.SecondarySite.failure;
import static dev.ferry.node.secondary.SecondarySite.portion;
import static dev.ferry.node.secondary.SecondarySite.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.control.Portion;
import dev.ferry.node.secondary.CommitLog.Applied;
import dev.ferry.node.secondary.CommitLog.Applying;
import dev.ferry.node.secondary.CommitLog.Logged;
import io.grpc.Status;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Restarts: redo of an interrupted apply, torn tails cut, corruption refused by name. */
class SecondaryRecoveryTest {
  private static final Portion A0 = new Portion("a", 0);
  private static final Portion A1 = new Portion("a", 1);
  /** Epoch 2's updates: 5 in all, overlapping epoch 1's and each other (so order matters). */
  private static final int EPOCH_2_UPDATES = 5;

  @TempDir Path dir;
  @TempDir Path reference;

  /** Simulates the process dying inside an apply: the store is abandoned where it stands. */
  private static final class Crash extends RuntimeException {
    private static final long serialVersionUID = 1L;
  }

  /** Epoch 1 applied and epoch 2 staged; returns the portions of epoch 2. */
  private static Portion[] applyOneStageTwo(SecondarySite site) {
    site.stage(portion(1, A0, update(1, at(0, 0), 4096), update(2, at(0, 8192), 100)));
    site.stage(portion(1, A1, update(1, at(1, 10), 300)));
    site.commit(1, A0, A1);
    site.stage(portion(2, A0, update(1, at(0, 100), 1000), update(2, at(0, 500), 1000),
        update(3, at(0, 600), 10)));
    site.stage(portion(2, A1, update(1, at(1, 0), 100), update(2, at(1, 50), 100)));
    return new Portion[] {A0, A1};
  }

  private Path log() {
    return dir.resolve(SecondaryStore.LOG_FILE);
  }

  private static List<Logged> entries(Path log) throws IOException {
    List<Logged> entries = new ArrayList<>();
    CommitLog.open(log, entries).close();
    return entries;
  }

  /** Commit of epoch 2 dies after APPLYING 2 and k of its updates. */
  private void crashInTheApplyOfEpoch2(int k) throws IOException {
    try (SecondarySite site = SecondarySite.open(dir, (epoch, written) -> {
      if (epoch == 2 && written == k) {
        throw new Crash();
      }
    })) {
      Portion[] epoch2 = applyOneStageTwo(site);
      assertThat(failure(() -> site.commit(2, epoch2)).getCode()).isEqualTo(Status.Code.INTERNAL);
      assertThat(site.fatal).singleElement().isInstanceOf(Crash.class);
      assertThat(failure(site::status).getDescription()).contains("answers nothing more");
    }
    assertThat(entries(log()).get(entries(log()).size() - 1).entry())
        .isEqualTo(new Applying(2, closedAt(2), List.of(A0, A1)));
  }

  @ParameterizedTest(name = "after {0} updates")
  @ValueSource(ints = {0, 2, EPOCH_2_UPDATES})
  void anApplyInterruptedBetweenApplyingAndAppliedIsRedoneAtOpen(int k) throws IOException {
    crashInTheApplyOfEpoch2(k);
    try (SecondarySite uninterrupted = SecondarySite.open(reference)) {
      uninterrupted.commit(2, applyOneStageTwo(uninterrupted));
    }

    try (SecondarySite site = SecondarySite.open(dir)) {
      assertThat(site.status().getAppliedEpoch()).isEqualTo(2);
      assertThat(site.status().getAppliedClosedAtMillis()).isEqualTo(closedAt(2));
      assertThat(site.status().getStagedEpochsList()).isEmpty();
    }
    Path image = Path.of(SecondaryStore.IMAGES_DIR, "a.img");
    assertThat(Files.readAllBytes(dir.resolve(image)))
        .isEqualTo(Files.readAllBytes(reference.resolve(image)));
    assertThat(entries(log()).get(entries(log()).size() - 1).entry())
        .isEqualTo(new Applied(2, closedAt(2)));
  }

  @ParameterizedTest(name = "{0} bytes of the last record kept")
  @ValueSource(ints = {0, 3, 8, 20, -1})
  void aTornLastRecordIsCutAndTheEpochCanBeCommittedAgain(int kept) throws IOException {
    crashInTheApplyOfEpoch2(0);
    long applying2 = entries(log()).get(entries(log()).size() - 1).offset();
    try (RandomAccessFile f = new RandomAccessFile(log().toFile(), "rw")) {
      f.setLength(kept >= 0 ? applying2 + kept : f.length() - 1);
    }

    try (SecondarySite site = SecondarySite.open(dir)) {
      assertThat(Files.size(log())).isEqualTo(applying2);
      assertThat(site.status().getAppliedEpoch()).isEqualTo(1);
      assertThat(site.status().getStagedEpochsList()).containsExactly(2L);
      assertThat(site.commit(2, A0, A1)).isEqualTo(2);
      site.restart();
      assertThat(site.status().getAppliedEpoch()).isEqualTo(2);
    }
  }

  @Test
  void zeroBytesAfterTheLastRecordAreCut() throws IOException {
    try (SecondarySite site = SecondarySite.open(dir)) {
      applyOneStageTwo(site);
    }
    long size = Files.size(log());
    Files.write(log(), new byte[100], StandardOpenOption.APPEND);

    try (SecondarySite site = SecondarySite.open(dir)) {
      assertThat(Files.size(log())).isEqualTo(size);
      assertThat(site.commit(2, A0, A1)).isEqualTo(2);
    }
  }

  @Test
  void aCompactedLogStartingWithALoneAppliedReopensAtItsEpoch() throws IOException {
    try (SecondarySite site = SecondarySite.open(dir)) {
      applyOneStageTwo(site);
    }
    try (CommitLog log = CommitLog.open(log(), new ArrayList<>())) {
      log.rewrite(List.of(new Applied(1, closedAt(1))));
      assertThat(log.size()).isEqualTo(Files.size(log()));
    }

    try (SecondarySite site = SecondarySite.open(dir)) {
      assertThat(site.status().getAppliedEpoch()).isEqualTo(1);
      assertThat(site.status().getAppliedClosedAtMillis()).isEqualTo(closedAt(1));
      assertThat(site.commit(2, A0, A1)).isEqualTo(2);
      site.restart();
      assertThat(site.status().getAppliedEpoch()).isEqualTo(2);
    }
  }

  /** A byte of APPLIED 1 (the second of four records) damaged: in its epoch, in its length. */
  @ParameterizedTest(name = "byte {0}")
  @CsvSource({"20,CRC32C mismatch", "5,a record of 4194337 bytes but the file ends after"})
  void aDamagedRecordBeforeTheLastRefusesTheOpenNamingFileAndOffset(int at, String why)
      throws IOException {
    try (SecondarySite site = SecondarySite.open(dir)) {
      site.commit(2, applyOneStageTwo(site));
    }
    List<Logged> records = entries(log());
    assertThat(records).hasSize(4);
    long applied1 = records.get(1).offset();
    flipByte(log(), applied1 + at);

    assertThatThrownBy(() -> SecondaryStore.open(dir, e -> { }))
        .isInstanceOf(CorruptStoreException.class)
        .hasMessageStartingWith("corrupt secondary store " + log() + " at offset " + applied1
            + ": " + why);
  }

  @Test
  void recordsOutOfOrderRefuseTheOpen() throws IOException {
    Files.createDirectories(dir);
    try (CommitLog log = CommitLog.open(log(), new ArrayList<>())) {
      log.append(new Applying(1, 0, List.of()));
      log.append(new Applied(1, 0));
      log.append(new Applied(3, 0));
    }
    long third = entries(log()).get(2).offset();

    assertThatThrownBy(() -> SecondaryStore.open(dir, e -> { }))
        .hasMessage("corrupt secondary store " + log() + " at offset " + third
            + ": APPLIED 3 without APPLYING 3");
  }

  @Test
  void aDamagedStagedFileRefusesTheOpenNamingIt() throws IOException {
    try (SecondarySite site = SecondarySite.open(dir)) {
      applyOneStageTwo(site);
    }
    Path staged = dir.resolve("staging/00000000000000000002/a@1.stage");
    flipByte(staged, Files.size(staged) - 1);

    assertThatThrownBy(() -> SecondaryStore.open(dir, e -> { }))
        .hasMessage("corrupt secondary store " + staged + " at offset 12: CRC32C mismatch");
  }

  @Test
  void theHaltHookFiresOnceInTheFirstEpochFromItsOwnOnThatReachesItsUpdate() {
    AtomicInteger halts = new AtomicInteger();
    ApplyHook hook = ApplyHook.haltAfter("7:3", halts::incrementAndGet);
    hook.afterUpdate(6, 3);
    hook.afterUpdate(7, 2); // epoch 7 had only 2 updates
    assertThat(halts).hasValue(0);
    hook.afterUpdate(8, 3);
    assertThat(halts).hasValue(1);
    hook.afterUpdate(9, 3);
    assertThat(halts).as("once").hasValue(1);

    assertThatThrownBy(() -> ApplyHook.haltAfter("7", halts::incrementAndGet))
        .hasMessageContaining(ApplyHook.HALT_PROPERTY);
  }

  private static void flipByte(Path file, long offset) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(offset);
      int b = f.read();
      f.seek(offset);
      f.write(b ^ 0x40);
    }
  }
}
