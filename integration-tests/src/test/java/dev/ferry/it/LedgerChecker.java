package dev.ferry.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The checks of a load ledger that {@code ferry verify} (which reads the secondary) does not
 * make: one number, one write (no (portion, epoch, n) acknowledged for two different writes,
 * DESIGN.md §6.1) and one answer per write (no write acknowledged twice with different numbers).
 * With verify's "every acknowledged write present with its bytes up to the applied epoch,
 * nothing later" and the load's dependent chains, that is the nemesis suite's checker.
 */
final class LedgerChecker {
  private LedgerChecker() {}

  /** Problems found in {@code ledger} of volumes with {@code regionSize}-byte regions. */
  static List<String> problems(Path ledger, long regionSize) throws IOException {
    List<String> problems = new ArrayList<>();
    Map<String, String> writeByNumber = new HashMap<>();
    Map<String, String> numberByWrite = new HashMap<>();
    int line = 0;
    for (String l : Files.readAllLines(ledger)) {
      line++;
      if (l.isBlank()) {
        continue;
      }
      String[] f = l.trim().split(",");
      if (f.length != 8) {
        problems.add("line " + line + " is malformed: " + l);
        continue;
      }
      String write = f[0] + "/" + f[1];
      String number = f[2] + "/" + (Long.parseLong(f[3]) / regionSize) + " epoch " + f[6]
          + " n " + f[7];
      String before = writeByNumber.putIfAbsent(number, write);
      if (before != null && !before.equals(write)) {
        problems.add("duplicate number: " + number + " acknowledged for write " + before
            + " and for write " + write);
      }
      String answered = numberByWrite.putIfAbsent(write, number);
      if (answered != null && !answered.equals(number)) {
        problems.add("write " + write + " acknowledged twice: " + answered + ", then " + number);
      }
    }
    return problems;
  }
}
