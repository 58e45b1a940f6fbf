package dev.ferry.node.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ferry} command line. Exit code 0 on success; otherwise non-zero with a one-line
 * reason on stderr. Tables for people, {@code --json} for scripts.
 */
@Command(
    name = "ferry",
    mixinStandardHelpOptions = true,
    versionProvider = FerryCli.Version.class,
    description = "Consistent, scale-out, asynchronous remote replication.",
    subcommands = {
      NodeCommand.class,
      ClusterCommand.class,
      AdminCommand.class,
      DemoCommand.class,
      LoadCommand.class,
      SecondaryCommand.class,
      VerifyCommand.class,
      CommandLine.HelpCommand.class
    })
public final class FerryCli {
  /** Exit code for a failed operation (bad input, rejected command, unreachable cluster). */
  public static final int FAILED = 1;

  public static void main(String[] args) {
    // before anything logs: route java.util.logging (Ratis's gRPC) into log4j2, and keep
    // client commands quiet so their stdout stays clean for scripts
    if (System.getProperty("java.util.logging.manager") == null) {
      System.setProperty("java.util.logging.manager", "org.apache.logging.log4j.jul.LogManager");
    }
    boolean daemon = args.length > 0 && (args[0].equals("node") || args[0].equals("secondary"));
    if (System.getProperty("ferry.log.level") == null) {
      System.setProperty("ferry.log.level", daemon ? "INFO" : "WARN");
    }
    System.exit(commandLine().execute(args));
  }

  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new FerryCli());
    cl.setParameterExceptionHandler((e, args) -> {
      PrintWriter err = e.getCommandLine().getErr();
      err.println("ferry: " + e.getMessage() + " (see '"
          + e.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
      return 2;
    });
    cl.setExecutionExceptionHandler((e, command, parseResult) -> {
      command.getErr().println("ferry: " + Failure.describe(e));
      return FAILED;
    });
    return cl;
  }

  /**
   * {@code ferry VERSION (commit C)}: the project version and the git commit of the build, from
   * {@code version.properties} (filled in by the build; "uncommitted changes" when the tree
   * was dirty, no commit when it was built without .git).
   */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() throws java.io.IOException {
      java.util.Properties p = new java.util.Properties();
      try (java.io.InputStream in = FerryCli.class.getResourceAsStream("version.properties")) {
        if (in != null) {
          p.load(in);
        }
      }
      String version = filled(p.getProperty("version"));
      String commit = filled(p.getProperty("commit"));
      return new String[] {"ferry " + (version == null ? "(version unknown)" : version)
          + (commit == null ? "" : " (commit " + commit
              + ("true".equals(p.getProperty("dirty")) ? ", uncommitted changes" : "") + ")")};
    }

    /** A value the build filled in, or null (missing, or a placeholder left as it was). */
    private static String filled(String value) {
      return value == null || value.isBlank() || value.startsWith("${") ? null : value;
    }
  }
}
