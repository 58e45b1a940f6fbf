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
      assertThat(exitCode).as("exit code of a command that should work; stderr: %s", stderr).isZero();
      return this;
    }
  }

  static Path jar() {
    Path jar = Path.of(System.getProperty("ferry.jar", "../node/target/ferry.jar"));
    assertThat(jar).as("the node's shaded jar (built by the reactor before this module)").exists();
    return jar;
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

  /** Runs with extra environment variables (FERRY_NODE_JAVA_OPTS reaches started processes). */
  static Result runWith(Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Djava.util.logging.manager=org.apache.logging.log4j.jul.LogManager");
    cmd.add("-jar");
    cmd.add(jar().toString());
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

  /** id → pid, admin address from DIR/cluster.json. */
  static Map<String, JsonObject> nodes(Path dir) throws IOException {
    JsonObject o = JsonParser.parseString(Files.readString(dir.resolve("cluster.json"))).getAsJsonObject();
    Map<String, JsonObject> out = new TreeMap<>();
    o.getAsJsonArray("nodes").forEach(e -> out.put(e.getAsJsonObject().get("id").getAsString(),
        e.getAsJsonObject()));
    return out;
  }

  private FerryCli() {}
}
