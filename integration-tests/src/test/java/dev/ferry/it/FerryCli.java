package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/** Runs the real {@code ferry} jar as a separate process, the way a user or a script does. */
final class FerryCli {
  /** What one command did. */
  record Result(int exitCode, String stdout, String stderr) {
    Result assertOk() {
      assertThat(exitCode).as("exit code of a command that should work; stderr: %s; stdout: %s",
          stderr, stdout.length() > 2000 ? stdout.substring(0, 2000) + "..." : stdout).isZero();
      return this;
    }
  }

  static Path jar() {
    Path jar = Path.of(System.getProperty("ferry.jar", "../node/target/ferry.jar"));
    assertThat(jar).as("the node's shaded jar (built by the reactor before this module)").exists();
    return jar;
  }

  /** The command line that runs the ferry jar, without its arguments. */
  static List<String> javaCommand() {
    return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Djava.util.logging.manager=org.apache.logging.log4j.jul.LogManager", "-jar",
        jar().toString());
  }

  static Path workDir(String name) throws IOException {
    Path base = Path.of(System.getProperty("ferry.it.dir", "target/it-clusters"));
    Path dir = base.resolve(name + "-" + System.currentTimeMillis());
    Files.createDirectories(dir);
    return dir.toAbsolutePath();
  }

  static Result run(String... args) throws IOException, InterruptedException {
    return runWith(Map.of(), args);
  }

  /**
   * Runs a command in this JVM: the same code as the launcher's, without a JVM
   * start (1-3 s on a busy 2-core machine, which stretched every partition fault of the soak by
   * that much twice, and every restart once). Processes it starts run the ferry jar, as
   * they would from the CLI.
   */
  static Result runHere(String... args) {
    return runHere(Map.of(), args);
  }

  /**
   * {@link #runHere(String...)} with the environment a process would get from {@link #runWith}:
   * FERRY_NODE_JAVA_OPTS reaches the processes it starts.
   */
  static synchronized Result runHere(Map<String, String> env, String... args) {
    System.setProperty("ferry.launch.classpath", jar().toAbsolutePath().toString());
    String opts = env.get("FERRY_NODE_JAVA_OPTS");
    if (opts != null) {
      System.setProperty("ferry.launch.javaOpts", opts);
    } else {
      System.clearProperty("ferry.launch.javaOpts");
    }
    java.io.StringWriter out = new java.io.StringWriter();
    java.io.StringWriter err = new java.io.StringWriter();
    picocli.CommandLine cl = dev.ferry.node.cli.FerryCli.commandLine();
    cl.setOut(new java.io.PrintWriter(out, true));
    cl.setErr(new java.io.PrintWriter(err, true));
    int exit = cl.execute(args);
    return new Result(exit, out.toString(), err.toString());
  }

  /** Runs with extra environment variables (FERRY_NODE_JAVA_OPTS reaches started processes). */
  static Result runWith(Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(javaCommand());
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("ferry-cli", ".out");
    Path err = Files.createTempFile("ferry-cli", ".err");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(150, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("ferry " + String.join(" ", args) + " did not finish in 150 s");
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /**
   * Waits until the cluster's secondary has applied {@code epoch} (the cluster drained), asking
   * in this JVM (a CLI call per poll cost a JVM start each on a busy machine).
   */
  static void awaitApplied(String cluster, long epoch) {
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(90))
        .pollInterval(java.time.Duration.ofMillis(200)).ignoreExceptions()
        .until(() -> statusInProcess(cluster).getConsistentEpoch() >= epoch);
  }

  /** The highest epoch in a load ledger. */
  static long lastEpoch(Path ledger) throws IOException {
    return Files.readAllLines(ledger).stream().mapToLong(l -> Long.parseLong(l.split(",")[6]))
        .max().orElseThrow();
  }

  /** Runs ferry verify and asserts the secondary holds every acknowledged write; its JSON. */
  static JsonObject verifyConsistent(String secondary, Path ledger) throws Exception {
    Result verify = runHere("verify", "--secondary", secondary, "--ledger", ledger.toString(),
        "--json");
    JsonObject v = JsonParser.parseString(verify.stdout()).getAsJsonObject();
    assertThat(v.getAsJsonArray("problems")).as("verify: %s", verify.stdout()).isEmpty();
    assertThat(v.get("consistent").getAsBoolean()).isTrue();
    assertThat(verify.exitCode()).isZero();
    return v;
  }

  /** id → pid, admin address from DIR/cluster.json. */
  static Map<String, JsonObject> nodes(Path dir) throws IOException {
    JsonObject o = JsonParser.parseString(Files.readString(dir.resolve("cluster.json"))).getAsJsonObject();
    Map<String, JsonObject> out = new TreeMap<>();
    o.getAsJsonArray("nodes").forEach(e -> out.put(e.getAsJsonObject().get("id").getAsString(),
        e.getAsJsonObject()));
    return out;
  }

  /** {@code admin status --json} of the cluster. */
  static JsonObject status(String cluster) throws IOException, InterruptedException {
    return JsonParser.parseString(runHere("admin", "--cluster", cluster, "status", "--json")
        .assertOk().stdout()).getAsJsonObject();
  }

  /** A member's state as {@code admin status} shows it ("" if unknown). */
  static String memberState(String cluster, String member) {
    return memberStates(cluster).getOrDefault(member, "");
  }

  /**
   * Every member's state, asked in this JVM of the first node that answers within 2 s (a CLI
   * call starts a JVM: seconds on a busy machine, too slow to poll for a failure).
   */
  static Map<String, String> memberStates(String cluster) {
    Map<String, String> states = new TreeMap<>();
    statusInProcess(cluster).getMembersList().forEach(m -> states.put(m.getId(), m.getState().name()));
    return states;
  }

  /**
   * Whether {@code member} is FAILED and its failure settled: the epoch after the one open when
   * it was declared is applied (only then may another member be declared failed, copies 2).
   */
  static boolean failureSettled(String cluster, String member) {
    var s = statusInProcess(cluster);
    return s.getMembersList().stream().anyMatch(m -> m.getId().equals(member)
        && m.getState() == dev.ferry.proto.control.MemberState.FAILED
        && s.getConsistentEpoch() > m.getFailedAtEpoch());
  }

  /** The status as the first node that answers within 2 s gives it, asked in this JVM. */
  static dev.ferry.proto.admin.StatusReply statusInProcess(String cluster) {
    RuntimeException last = null;
    for (var address : dev.ferry.client.AdminClient.parseAddresses(cluster)) {
      try (var admin = new dev.ferry.client.AdminClient(List.of(address), java.time.Duration.ofSeconds(2))) {
        return admin.status();
      } catch (RuntimeException e) {
        last = e;
      }
    }
    throw last;
  }

  /**
   * The leader's view of the epochs not applied yet, one line each (state, portions staged of
   * those with a watermark, secondaries that applied it of those that must): what a timeout
   * message needs to say where the pipeline stands.
   */
  static String pendingEpochs(String cluster) {
    try (var admin = new dev.ferry.client.AdminClient(
        dev.ferry.client.AdminClient.parseAddresses(cluster), java.time.Duration.ofSeconds(5))) {
      var s = admin.clusterState();
      StringBuilder b = new StringBuilder("open epoch " + s.getOpenEpoch() + ", consistent "
          + s.getConsistentEpoch() + ", " + s.getEpochsCount() + " pending:");
      s.getEpochsList().stream().limit(12).forEach(e -> b.append("\n  epoch ")
          .append(e.getNumber()).append(' ').append(e.getState()).append(" staged ")
          .append(e.getStagedCount()).append('/').append(e.getWatermarksCount())
          .append(" applied by ").append(e.getAppliedByList()).append(" of ")
          .append(e.getSecondariesList()));
      return b.toString();
    } catch (RuntimeException e) {
      return "pending epochs unknown: " + e;
    }
  }

  /** {@code admin assignment --json}: one object per portion (volume, region, owner, mirrors). */
  static List<JsonObject> placements(String cluster) throws IOException, InterruptedException {
    List<JsonObject> out = new java.util.ArrayList<>();
    JsonParser.parseString(runHere("admin", "--cluster", cluster, "assignment", "--json").assertOk()
        .stdout()).getAsJsonArray().forEach(e -> out.add(e.getAsJsonObject()));
    return out;
  }

  /** kill -9 of a node of the local cluster in {@code dir}. */
  static void kill9(Path dir, String member) throws IOException {
    long pid = nodes(dir).get(member).get("pid").getAsLong();
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
  }

  private FerryCli() {}
}
