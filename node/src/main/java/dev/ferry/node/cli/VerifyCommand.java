package dev.ferry.node.cli;

import com.google.common.net.HostAndPort;
import dev.ferry.proto.secondary.ReadRequest;
import dev.ferry.proto.secondary.SecondaryGrpc;
import dev.ferry.proto.secondary.StatusReply;
import dev.ferry.proto.secondary.StatusRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ferry verify}: checks a secondary against a load ledger once the cluster has drained.
 * For every block the ledger wrote, the secondary must hold the last acknowledged write (by
 * epoch, then n) of the epochs up to its consistent epoch, and nothing written in a later epoch.
 * Blocks must be whole and equal or disjoint (as {@code ferry load} writes them).
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
    description = "Check a secondary against a ferry load ledger; exit 0 only when consistent.")
final class VerifyCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--secondary", required = true, paramLabel = "HOST:PORT") String secondary;

  @Option(names = "--ledger", required = true, paramLabel = "FILE") Path ledger;

  @Option(names = "--json", description = "print one JSON object") boolean json;

  /** One acknowledged write from the ledger. */
  record Entry(String primaryId, long clientSeq, String volume, long offset, int length, int crc32c,
      long epoch, long n) {
    static Entry parse(String line, int number) {
      String[] f = line.split(",");
      if (f.length != 8) {
        throw new IllegalArgumentException("ledger line " + number + " has " + f.length
            + " fields, not 8: " + line);
      }
      try {
        return new Entry(f[0], Long.parseLong(f[1]), f[2], Long.parseLong(f[3]),
            Integer.parseInt(f[4]), Integer.parseUnsignedInt(f[5]), Long.parseLong(f[6]),
            Long.parseLong(f[7]));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("ledger line " + number + " is malformed: " + line);
      }
    }

    boolean later(Entry o) {
      return epoch != o.epoch ? epoch > o.epoch : n > o.n;
    }
  }

  private record Block(String volume, long offset) implements Comparable<Block> {
    @Override
    public int compareTo(Block o) {
      int c = volume.compareTo(o.volume);
      return c != 0 ? c : Long.compare(offset, o.offset);
    }
  }

  @Override
  public Integer call() throws Exception {
    Map<Block, List<Entry>> blocks = new TreeMap<>();
    int number = 0;
    for (String line : Files.readAllLines(ledger)) {
      number++;
      if (line.isBlank()) {
        continue;
      }
      Entry e = Entry.parse(line.trim(), number);
      blocks.computeIfAbsent(new Block(e.volume(), e.offset()), b -> new ArrayList<>()).add(e);
    }
    checkDisjoint(blocks);
    HostAndPort hp = HostAndPort.fromString(secondary);
    ManagedChannel ch = NettyChannelBuilder.forAddress(hp.getHost(), hp.getPort()).usePlaintext().build();
    List<String> problems = new ArrayList<>();
    long applied;
    int checked = 0;
    try {
      var stub = SecondaryGrpc.newBlockingStub(ch);
      StatusReply status = stub.withDeadlineAfter(10, TimeUnit.SECONDS).status(StatusRequest.getDefaultInstance());
      applied = status.getAppliedEpoch();
      for (Map.Entry<Block, List<Entry>> b : blocks.entrySet()) {
        Entry expected = null;
        for (Entry e : b.getValue()) {
          if (e.epoch() <= applied && (expected == null || e.later(expected))) {
            expected = e;
          }
        }
        int length = b.getValue().get(0).length();
        byte[] got = stub.withDeadlineAfter(10, TimeUnit.SECONDS).read(ReadRequest.newBuilder()
            .setVolume(b.getKey().volume()).setOffset(b.getKey().offset()).setLength(length).build())
            .getData().toByteArray();
        checked++;
        if (expected != null) {
          if (crc(got) != expected.crc32c()) {
            problems.add(describe("missing", expected, b.getValue(), got));
          }
        } else if (!allZero(got)) {
          problems.add(describe("from a later epoch", b.getValue().get(0), b.getValue(), got));
        }
      }
    } finally {
      ch.shutdownNow();
    }
    report(applied, number, checked, problems);
    return problems.isEmpty() ? 0 : FerryCli.FAILED;
  }

  private static void checkDisjoint(Map<Block, List<Entry>> blocks) {
    Block previous = null;
    long previousEnd = 0;
    for (Map.Entry<Block, List<Entry>> b : blocks.entrySet()) {
      for (Entry e : b.getValue()) {
        if (e.length() != b.getValue().get(0).length()) {
          throw new IllegalArgumentException("writes at " + e.volume() + "@" + e.offset()
              + " differ in length; verify needs equal or disjoint blocks");
        }
      }
      if (previous != null && previous.volume().equals(b.getKey().volume())
          && b.getKey().offset() < previousEnd) {
        throw new IllegalArgumentException("writes at " + b.getKey().volume() + "@"
            + b.getKey().offset() + " overlap the block before; verify needs equal or disjoint blocks");
      }
      previous = b.getKey();
      previousEnd = b.getKey().offset() + b.getValue().get(0).length();
    }
  }

  private static String describe(String what, Entry e, List<Entry> all, byte[] got) {
    String held = "nothing written";
    for (Entry other : all) {
      if (crc(got) == other.crc32c()) {
        held = "clientSeq " + other.clientSeq() + " of epoch " + other.epoch();
      }
    }
    if (allZero(got)) {
      held = "zeros";
    }
    return what + ": volume " + e.volume() + " offset " + e.offset() + " clientSeq " + e.clientSeq()
        + " epoch " + e.epoch() + " (the secondary holds " + held + ")";
  }

  private static int crc(byte[] b) {
    CRC32C c = new CRC32C();
    c.update(b);
    return (int) c.getValue();
  }

  private static boolean allZero(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  private void report(long applied, int lines, int checked, List<String> problems) {
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("consistent", problems.isEmpty());
      o.put("appliedEpoch", applied);
      o.put("ledgerLines", lines);
      o.put("blocksChecked", checked);
      o.put("problems", problems);
      out.println(Json.GSON.toJson(o));
    } else {
      out.printf("secondary at epoch %d: %,d blocks of %,d acknowledged writes checked, %s%n",
          applied, checked, lines, problems.isEmpty() ? "consistent" : problems.size() + " problems");
      problems.stream().limit(50).forEach(p -> out.println("  " + p));
    }
    out.flush();
  }
}
