package dev.ferry.node.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The CLI's own checks, before any cluster is involved: exit codes and one-line reasons. */
class FerryCliTest {
  record Run(int exit, String out, String err) {}

  static Run run(String... args) {
    CommandLine cl = FerryCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int exit = cl.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  /** Every admin subcommand, at any depth, answers --help without --cluster (issue 16). */
  @Test
  void helpOfEveryAdminSubcommandNeedsNoCluster() {
    List<List<String>> paths = new java.util.ArrayList<>();
    collect(FerryCli.commandLine().getSubcommands().get("admin"), List.of("admin"), paths);
    assertThat(paths).hasSizeGreaterThan(10);
    for (List<String> path : paths) {
      List<String> args = new java.util.ArrayList<>(path);
      args.add("--help");
      Run r = run(args.toArray(String[]::new));
      assertThat(r.exit()).as(String.join(" ", args) + ": " + r.err()).isZero();
      assertThat(r.out()).as(String.join(" ", args)).contains("Usage: ferry " + String.join(" ", path));
    }
  }

  private static void collect(picocli.CommandLine c, List<String> path, List<List<String>> out) {
    for (var e : c.getSubcommands().entrySet()) {
      List<String> sub = new java.util.ArrayList<>(path);
      sub.add(e.getKey());
      out.add(sub);
      collect(e.getValue(), sub, out);
    }
  }

  /**
   * Issue 16: --version printed "ferry (development build)". It names the version and, in a
   * git checkout (CI clones one), the commit the build was made from.
   */
  @Test
  void versionNamesTheBuildsVersionAndCommit() {
    Run r = run("--version");
    assertThat(r.exit()).isZero();
    String version = "ferry \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?";
    String commit = " \\(commit [0-9a-f]{10}(, uncommitted changes)?\\)";
    assertThat(r.out().strip()).matches(insideAGitCheckout() ? version + commit : version);
  }

  /** Whether this build runs in a git checkout: then the build knows its commit. */
  private static boolean insideAGitCheckout() {
    for (java.nio.file.Path p = java.nio.file.Path.of("").toAbsolutePath(); p != null;
        p = p.getParent()) {
      if (java.nio.file.Files.exists(p.resolve(".git"))) {
        return true;
      }
    }
    return false;
  }

  @Test
  void anAdminCallWithoutClusterIsAUsageError() {
    Run r = run("admin", "status");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err().strip()).startsWith("ferry: Missing required option: '--cluster=")
        .doesNotContain("\n");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void aMalformedSizeIsAUsageErrorNamingTheValue() {
    Run r = run("admin", "--cluster", "127.0.0.1:1", "volume", "create", "v", "--size", "12XB");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err().strip()).startsWith("ferry: ").contains("'12XB' is not a size").doesNotContain("\n");
  }

  @Test
  void zeroAndNegativeSizesAreRefusedBeforeAnyCall() {
    Run zero = run("admin", "--cluster", "127.0.0.1:1", "volume", "create", "v", "--size", "0");
    assertThat(zero.exit()).isEqualTo(FerryCli.FAILED);
    assertThat(zero.err()).contains("--size must be positive, got 0 bytes");
    Run negative = run("admin", "--cluster", "127.0.0.1:1", "volume", "create", "v", "--size", "-1GiB");
    assertThat(negative.exit()).isEqualTo(FerryCli.FAILED);
    assertThat(negative.err()).contains("--size must be positive");
  }

  @Test
  void aCtsPeriodThatIsNotAPositiveWholeNumberOfMillisecondsIsAUsageError() {
    for (String bad : List.of("fast", "100", "0ms", "1500us")) {
      Run r = run("admin", "--cluster", "127.0.0.1:1", "cts-period", bad);
      assertThat(r.exit()).as(bad).isEqualTo(2);
      assertThat(r.err().strip()).as(bad).startsWith("ferry: ").contains("'" + bad + "'")
          .contains("or 'default'").doesNotContain("\n");
      assertThat(r.out()).isEmpty();
    }
  }

  @Test
  void ctsPeriodTakesDefaultAndDurationsThenAsksTheCluster() {
    for (String ok : List.of("default", "DEFAULT", "100ms", "2s", "1m")) {
      Run r = run("admin", "--cluster", "127.0.0.1:1", "--timeout", "2s", "cts-period", ok, "--json");
      assertThat(r.exit()).as(ok).isEqualTo(FerryCli.FAILED);
      assertThat(r.err()).as(ok).contains("(UNAVAILABLE)");
    }
  }

  @Test
  void anUnreachableClusterIsReportedAsUnavailable() {
    Run r = run("admin", "--cluster", "127.0.0.1:1", "--timeout", "2s", "status");
    assertThat(r.exit()).isEqualTo(FerryCli.FAILED);
    assertThat(r.err().strip()).startsWith("ferry: no node answered at [127.0.0.1:1]")
        .endsWith("(UNAVAILABLE)");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void aBadClusterAddressIsNamed() {
    Run r = run("admin", "--cluster", "localhost", "status");
    assertThat(r.exit()).isEqualTo(FerryCli.FAILED);
    assertThat(r.err()).contains("'localhost' has no port");
  }

  @Test
  void clusterUpRejectsAnUnknownSettingAndABadNodeCount(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
    Run key = run("cluster", "up", "--dir", dir.toString(), "--set", "no.such.key=1");
    assertThat(key.exit()).isEqualTo(FerryCli.FAILED);
    assertThat(key.err()).contains("unknown configuration key 'no.such.key'");
    Run count = run("cluster", "up", "--dir", dir.toString(), "--nodes", "0");
    assertThat(count.exit()).isEqualTo(FerryCli.FAILED);
    assertThat(count.err()).contains("--nodes must be between 1 and 9");
  }
}
