package dev.ferry.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.LifecycleMethodExecutionExceptionHandler;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * When an IT fails, writes the last distinct warnings and errors of Ferry's own code in each
 * process log of its cluster to {@code target/it-failures/<class>.<test>.txt}: the CI run prints
 * those files last, where a reader of a CI failure sees them (the logs themselves stay on the
 * CI machine). A cluster that does not come up ({@code @BeforeAll}) is digested as
 * {@code <class>.beforeAll.txt}.
 */
final class FailureDigest implements TestWatcher, LifecycleMethodExecutionExceptionHandler {
  /** Lines kept per process log. */
  private static final int LINES_PER_LOG = 12;
  private static final int MAX_LINE = 240;
  /** Lines kept from the end of each log when the cluster did not come up. */
  private static final int LAST_LINES_OF_A_CLUSTER_NOT_UP = 15;
  private static final Pattern WARNING = Pattern.compile("^\\S+ (WARN|ERROR) ");
  /** Ratis and gRPC internals: their retries say nothing a Ferry message does not. */
  private static final Pattern NOISE = Pattern.compile(
      "GrpcLogAppender|GrpcServerProtocolService|GrpcClientProtocolService|ClientCallImpl"
          + "|DelayedClientCall|SegmentedRaftLog|RaftServer|LeaderElection");
  private static final Pattern DIGITS = Pattern.compile("\\d+");

  /** The cluster directory of the failed test's instance, or null. */
  interface HasClusterDir {
    Path clusterDir();
  }

  @Override
  public void testFailed(ExtensionContext context, Throwable cause) {
    write(context, context.getRequiredTestMethod().getName(), cause);
  }

  /**
   * A cluster that did not come up: its warnings may say nothing (a node waiting to rejoin logs
   * at INFO), so each log's last lines follow them.
   */
  @Override
  public void handleBeforeAllMethodExecutionException(ExtensionContext context, Throwable cause)
      throws Throwable {
    write(context, "beforeAll", cause);
    throw cause;
  }

  private static void write(ExtensionContext context, String what, Throwable cause) {
    Object test = context.getTestInstance().orElse(null);
    if (!(test instanceof HasClusterDir h) || h.clusterDir() == null) {
      return;
    }
    try {
      Path out = Path.of("target", "it-failures");
      Files.createDirectories(out);
      String name = context.getRequiredTestClass().getSimpleName() + "." + what;
      Files.writeString(out.resolve(name + ".txt"), digest(name, cause, h.clusterDir(),
          what.equals("beforeAll") ? LAST_LINES_OF_A_CLUSTER_NOT_UP : 0), StandardCharsets.UTF_8);
    } catch (IOException e) {
      System.err.println("failure digest not written: " + e);
    }
  }

  static String digest(String name, Throwable cause, Path dir, int lastLines) throws IOException {
    StringBuilder b = new StringBuilder("=== ").append(name).append(": ")
        .append(String.valueOf(cause).lines().findFirst().orElse("")).append('\n');
    List<Path> logs;
    try (Stream<Path> files = Files.walk(dir, 2)) {
      logs = files.filter(f -> f.getFileName().toString().endsWith(".log")).sorted().toList();
    }
    for (Path log : logs) {
      b.append("--- ").append(dir.relativize(log)).append('\n');
      lastDistinctWarnings(log).forEach(l -> b.append(l).append('\n'));
      if (lastLines > 0) {
        b.append("--- ").append(dir.relativize(log)).append(", last lines\n");
        lastLines(log, lastLines).forEach(l -> b.append(l).append('\n'));
      }
    }
    return b.toString();
  }

  /** The last {@code count} lines of one log, each cut at {@value #MAX_LINE} characters. */
  private static List<String> lastLines(Path log, int count) throws IOException {
    java.util.ArrayDeque<String> last = new java.util.ArrayDeque<>();
    try (Stream<String> lines = Files.lines(log, StandardCharsets.ISO_8859_1)) {
      for (String line : (Iterable<String>) lines::iterator) {
        last.addLast(line.length() > MAX_LINE ? line.substring(0, MAX_LINE) + "..." : line);
        if (last.size() > count) {
          last.removeFirst();
        }
      }
    }
    return new ArrayList<>(last);
  }

  /** The last distinct (by text, numbers aside) Ferry warnings of one log, oldest first. */
  private static List<String> lastDistinctWarnings(Path log) throws IOException {
    // by shape (the text after the time stamp, digits masked): a repeat moves to the end.
    // Latin-1 reads any byte: a log with a stray non-UTF-8 byte must still be digested
    LinkedHashMap<String, String> kept = new LinkedHashMap<>();
    try (Stream<String> lines = Files.lines(log, StandardCharsets.ISO_8859_1)) {
      for (String line : (Iterable<String>) lines::iterator) {
        if (!WARNING.matcher(line).find() || NOISE.matcher(line).find()) {
          continue;
        }
        String text = line.length() > MAX_LINE ? line.substring(0, MAX_LINE) + "..." : line;
        // the text after the time stamp (one token), digits masked
        String shape = DIGITS.matcher(text.substring(Math.max(0, text.indexOf(' ') + 1)))
            .replaceAll("#");
        kept.remove(shape);
        kept.put(shape, text);
        if (kept.size() > LINES_PER_LOG) {
          kept.remove(kept.keySet().iterator().next());
        }
      }
    }
    return new ArrayList<>(kept.values());
  }
}
