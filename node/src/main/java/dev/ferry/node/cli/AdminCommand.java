package dev.ferry.node.cli;

import dev.ferry.client.AdminClient;
import dev.ferry.node.config.Units;
import dev.ferry.proto.admin.CommandReply;
import dev.ferry.proto.admin.GetAssignmentReply;
import dev.ferry.proto.admin.SecondaryInfo;
import dev.ferry.proto.admin.StatusReply;
import dev.ferry.proto.control.Member;
import dev.ferry.proto.control.PortionPlacement;
import dev.ferry.proto.control.Volume;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code ferry admin --cluster HOST:PORT[,...] ...}: cluster administration from any node. */
@Command(name = "admin", mixinStandardHelpOptions = true,
    description = "Administer a running cluster through any of its nodes.",
    subcommands = {
      AdminCommand.StatusCmd.class,
      AdminCommand.VolumeCmd.class,
      AdminCommand.AssignmentCmd.class,
      AdminCommand.MemberCmd.class,
      EpochsCommand.class,
      AdminCommand.CtsPeriodCmd.class,
      AdminCommand.CopiesCmd.class,
      AdminCommand.SecondaryCmd.class
    })
final class AdminCommand {
  // required, but checked when a call is made, not at parse time: picocli checks a parent's
  // required options before a subcommand's --help, so `admin status --help` failed without it
  @Option(names = "--cluster", paramLabel = "HOST:PORT[,HOST:PORT...]",
      description = "any nodes of the cluster (their node.listen); the first that answers is used"
          + " (required)")
  String cluster;

  @Spec CommandSpec adminSpec;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "15s",
      description = "deadline of each call (default: ${DEFAULT-VALUE})")
  String timeout;

  AdminClient client() {
    if (cluster == null) {
      throw new picocli.CommandLine.ParameterException(adminSpec.commandLine(),
          "Missing required option: '--cluster=HOST:PORT[,HOST:PORT...]'");
    }
    return new AdminClient(AdminClient.parseAddresses(cluster), Units.parseDuration(timeout));
  }

  /** Runs one call against the cluster and prints the line it returns. */
  int printResult(CommandSpec spec, java.util.function.Function<AdminClient, String> call) {
    try (AdminClient c = client()) {
      PrintWriter out = spec.commandLine().getOut();
      out.println(call.apply(c));
      out.flush();
      return 0;
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "Leader, members, assignment version, volumes, epochs.")
  static final class StatusCmd implements Callable<Integer> {
    @ParentCommand AdminCommand admin;
    @Spec CommandSpec spec;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Override
    public Integer call() {
      try (AdminClient c = admin.client()) {
        StatusReply s = c.status();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
          out.println(Json.GSON.toJson(statusJson(s)));
        } else {
          out.printf("leader %s (answered by %s), assignment version %d, open epoch %d, "
              + "applied epoch %d, RPO %s%n", s.getLeader().isEmpty() ? "(none)" : s.getLeader(),
              s.getAnsweredBy(), s.getAssignmentVersion(), s.getOpenEpoch(),
              s.getConsistentEpoch(), s.getRpoMillis() < 0 ? "-" : s.getRpoMillis() + " ms");
          out.printf("%-12s %-9s %-22s %s%n", "MEMBER", "STATE", "ADDRESS", "INCARNATION");
          for (Member m : s.getMembersList()) {
            out.printf("%-12s %-9s %-22s %d%n", m.getId(), m.getState(), m.getAddress(),
                m.getIncarnation());
          }
          out.println("volumes: " + (s.getVolumesCount() == 0 ? "(none)"
              : String.join(", ", s.getVolumesList())) + "; copies per update: " + s.getCopies());
          if (s.getConsistentPointWaitsForCount() > 0) {
            out.println("the next epoch to apply waits for secondary "
                + String.join(", ", s.getConsistentPointWaitsForList()));
          }
        }
        out.flush();
        return 0;
      }
    }

    static Map<String, Object> statusJson(StatusReply s) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("leader", s.getLeader());
      o.put("answeredBy", s.getAnsweredBy());
      List<Map<String, Object>> members = new ArrayList<>();
      for (Member m : s.getMembersList()) {
        Map<String, Object> mo = new LinkedHashMap<>();
        mo.put("id", m.getId());
        mo.put("state", m.getState().name());
        mo.put("address", m.getAddress());
        mo.put("incarnation", m.getIncarnation());
        members.add(mo);
      }
      o.put("members", members);
      o.put("assignmentVersion", s.getAssignmentVersion());
      o.put("volumes", s.getVolumesList());
      o.put("openEpoch", s.getOpenEpoch());
      o.put("appliedEpoch", s.getConsistentEpoch());
      o.put("rpoMillis", s.getRpoMillis());
      o.put("copies", s.getCopies());
      List<Map<String, Object>> peers = new ArrayList<>();
      s.getRaftPeersList().forEach(p -> {
        Map<String, Object> po = new LinkedHashMap<>();
        po.put("id", p.getId());
        po.put("address", p.getAddress());
        peers.add(po);
      });
      o.put("raftPeers", peers);
      o.put("consistentPointWaitsFor", s.getConsistentPointWaitsForList());
      return o;
    }
  }

  @Command(name = "volume", mixinStandardHelpOptions = true, description = "Create, list, delete volumes.",
      subcommands = {VolumeCmd.Create.class, VolumeCmd.ListVolumes.class, VolumeCmd.Delete.class})
  static final class VolumeCmd {
    @ParentCommand AdminCommand admin;

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a volume.")
    static final class Create implements Callable<Integer> {
      @ParentCommand VolumeCmd volume;
      @Spec CommandSpec spec;

      @Parameters(index = "0", paramLabel = "NAME") String name;

      @Option(names = "--size", required = true, paramLabel = "SIZE",
          converter = SizeConverter.class, description = "volume size, e.g. 10GiB")
      long size;

      @Option(names = "--region-size", paramLabel = "SIZE", converter = SizeConverter.class,
          description = "portion size (default: the node's volume.default.region.size)")
      long regionSize;

      @Option(names = "--secondary", paramLabel = "HOST:PORT", defaultValue = "",
          description = "the secondary site that receives this volume")
      String secondary;

      @Option(names = "--force",
          description = "create it even if the secondary does not answer now")
      boolean force;

      @Override
      public Integer call() {
        if (size <= 0) {
          throw new IllegalArgumentException("--size must be positive, got " + size + " bytes");
        }
        if (regionSize < 0) {
          throw new IllegalArgumentException("--region-size must be positive, got " + regionSize
              + " bytes");
        }
        return volume.admin.printResult(spec, c -> {
          CommandReply r = c.createVolume(name, size, regionSize, secondary, force);
          return "created volume " + name + " (" + Units.formatSize(size)
              + "), assignment version " + r.getAssignmentVersion();
        });
      }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List volumes.")
    static final class ListVolumes implements Callable<Integer> {
      @ParentCommand VolumeCmd volume;
      @Spec CommandSpec spec;

      @Option(names = "--json", description = "print a JSON list") boolean json;

      @Override
      public Integer call() {
        try (AdminClient c = volume.admin.client()) {
          PrintWriter out = spec.commandLine().getOut();
          List<Volume> volumes = c.listVolumes().getVolumesList();
          if (json) {
            List<Map<String, Object>> list = new ArrayList<>();
            for (Volume v : volumes) {
              Map<String, Object> o = new LinkedHashMap<>();
              o.put("name", v.getName());
              o.put("sizeBytes", v.getSizeBytes());
              o.put("regionSizeBytes", v.getRegionSizeBytes());
              o.put("regions", (v.getSizeBytes() + v.getRegionSizeBytes() - 1) / v.getRegionSizeBytes());
              o.put("secondary", v.getSecondary());
              o.put("detached", v.getDetached());
              o.put("detachedAppliedEpoch", v.getDetachedAppliedEpoch());
              list.add(o);
            }
            out.println(Json.GSON.toJson(list));
          } else {
            out.printf("%-20s %-10s %-10s %-8s %s%n", "VOLUME", "SIZE", "REGION", "REGIONS", "SECONDARY");
            for (Volume v : volumes) {
              out.printf("%-20s %-10s %-10s %-8d %s%n", v.getName(), Units.formatSize(v.getSizeBytes()),
                  Units.formatSize(v.getRegionSizeBytes()),
                  (v.getSizeBytes() + v.getRegionSizeBytes() - 1) / v.getRegionSizeBytes(),
                  v.getSecondary().isEmpty() ? "-" : v.getSecondary()
                      + (v.getDetached() ? " (detached after epoch " + v.getDetachedAppliedEpoch()
                          + ": needs a full resync)" : ""));
            }
          }
          out.flush();
          return 0;
        }
      }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a volume.")
    static final class Delete implements Callable<Integer> {
      @ParentCommand VolumeCmd volume;
      @Spec CommandSpec spec;

      @Parameters(index = "0", paramLabel = "NAME") String name;

      @Override
      public Integer call() {
        return volume.admin.printResult(spec, c -> "deleted volume " + name
            + ", assignment version " + c.deleteVolume(name).getAssignmentVersion());
      }
    }
  }

  @Command(name = "assignment", mixinStandardHelpOptions = true,
      description = "Owner and mirror of every portion.")
  static final class AssignmentCmd implements Callable<Integer> {
    @ParentCommand AdminCommand admin;
    @Spec CommandSpec spec;

    @Option(names = "--json",
        description = "print a JSON list of {volume, region, owner, mirror, mirrors}")
    boolean json;

    @Override
    public Integer call() {
      try (AdminClient c = admin.client()) {
        GetAssignmentReply a = c.assignment();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
          List<Map<String, Object>> list = new ArrayList<>();
          for (PortionPlacement p : a.getPlacementsList()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("volume", p.getVolume());
            o.put("region", p.getRegion());
            o.put("owner", p.getOwner());
            o.put("mirror", p.getMirror());
            o.put("mirrors", mirrorsOf(p));
            list.add(o);
          }
          out.println(Json.GSON.toJson(list));
        } else {
          out.printf("assignment version %d, %d portions%n", a.getAssignmentVersion(),
              a.getPlacementsCount());
          Map<String, int[]> perMember = new TreeMap<>();
          for (PortionPlacement p : a.getPlacementsList()) {
            perMember.computeIfAbsent(p.getOwner(), k -> new int[2])[0]++;
            mirrorsOf(p).forEach(m -> perMember.computeIfAbsent(m, k -> new int[2])[1]++);
          }
          out.printf("%-12s %-8s %s%n", "MEMBER", "OWNS", "MIRRORS");
          perMember.forEach((m, n) -> out.printf("%-12s %-8d %d%n", m, n[0], n[1]));
          out.printf("%n%-20s %-7s %-12s %s%n", "VOLUME", "REGION", "OWNER", "MIRRORS");
          for (PortionPlacement p : a.getPlacementsList()) {
            out.printf("%-20s %-7d %-12s %s%n", p.getVolume(), p.getRegion(), p.getOwner(),
                p.getMirror().isEmpty() ? "-" : String.join(",", mirrorsOf(p)));
          }
        }
        out.flush();
        return 0;
      }
    }
  }

  /** Every mirror of a placement, in order (the first one, then the further ones). */
  static List<String> mirrorsOf(PortionPlacement p) {
    List<String> all = new ArrayList<>();
    if (!p.getMirror().isEmpty()) {
      all.add(p.getMirror());
    }
    all.addAll(p.getMoreMirrorsList());
    return all;
  }

  @Command(name = "copies", mixinStandardHelpOptions = true,
      description = "Set how many durable copies of every update exist before its ack (the "
          + "owner's and COPIES - 1 mirrors'): the cluster survives COPIES - 1 simultaneous node "
          + "failures. Only while no volume exists.")
  static final class CopiesCmd implements Callable<Integer> {
    @ParentCommand AdminCommand admin;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "COPIES", description = "2..7 (default of a new cluster: 2)")
    int copies;

    @Option(names = "--json", description = "print {\"copies\": N}")
    boolean json;

    @Override
    public Integer call() {
      try (AdminClient c = admin.client()) {
        c.setCopies(copies); // committed through Raft once this returns
        PrintWriter out = spec.commandLine().getOut();
        out.println(json ? Json.GSON.toJson(Map.of("copies", copies))
            : "copies per update: " + copies);
        out.flush();
        return 0;
      }
    }
  }

  @Command(name = "member", mixinStandardHelpOptions = true, description = "Drain or remove a member.",
      subcommands = {MemberCmd.DrainMember.class, MemberCmd.RemoveMember.class})
  static final class MemberCmd {
    @ParentCommand AdminCommand admin;

    @Command(name = "drain", mixinStandardHelpOptions = true,
        description = "Move every portion away from a member.")
    static final class DrainMember implements Callable<Integer> {
      @ParentCommand MemberCmd member;
      @Spec CommandSpec spec;
      @Parameters(index = "0", paramLabel = "ID") String id;

      @Override
      public Integer call() {
        return member.admin.printResult(spec, c -> "member " + id
            + " is DRAINING, assignment version " + c.drainMember(id).getAssignmentVersion());
      }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
        description = "Remove a failed, drained or joining member.")
    static final class RemoveMember implements Callable<Integer> {
      @ParentCommand MemberCmd member;
      @Spec CommandSpec spec;
      @Parameters(index = "0", paramLabel = "ID") String id;

      @Override
      public Integer call() {
        return member.admin.printResult(spec, c -> {
          c.removeMember(id);
          return "member " + id + " is REMOVED";
        });
      }
    }
  }

  @Command(name = "secondary", mixinStandardHelpOptions = true,
      description = "List the secondaries, or take one out of the consistency group.",
      subcommands = {SecondaryCmd.ListSecondaries.class, SecondaryCmd.Detach.class})
  static final class SecondaryCmd {
    @ParentCommand AdminCommand admin;

    @Command(name = "list", mixinStandardHelpOptions = true,
        description = "Each secondary: its volumes, the last epoch it applied, whether the "
            + "consistent point waits for it.")
    static final class ListSecondaries implements Callable<Integer> {
      @ParentCommand SecondaryCmd secondary;
      @Spec CommandSpec spec;

      @Option(names = "--json", description = "print a JSON list") boolean json;

      @Override
      public Integer call() {
        try (AdminClient c = secondary.admin.client()) {
          List<SecondaryInfo> all = c.listSecondaries().getSecondariesList();
          PrintWriter out = spec.commandLine().getOut();
          if (json) {
            List<Map<String, Object>> list = new ArrayList<>();
            for (SecondaryInfo i : all) {
              Map<String, Object> o = new LinkedHashMap<>();
              o.put("address", i.getAddress());
              o.put("volumes", i.getVolumesList());
              o.put("appliedEpoch", i.getAppliedEpoch());
              o.put("holdsBack", i.getHoldsBack());
              o.put("detached", i.getDetached());
              list.add(o);
            }
            out.println(Json.GSON.toJson(list));
          } else {
            out.printf("%-22s %-8s %-10s %-9s %s%n", "SECONDARY", "APPLIED", "HOLDS BACK",
                "DETACHED", "VOLUMES");
            for (SecondaryInfo i : all) {
              out.printf("%-22s %-8d %-10s %-9s %s%n", i.getAddress(), i.getAppliedEpoch(),
                  i.getHoldsBack() ? "yes" : "no", i.getDetached() ? "yes" : "no",
                  String.join(",", i.getVolumesList()));
            }
          }
          out.flush();
          return 0;
        }
      }
    }

    @Command(name = "detach", mixinStandardHelpOptions = true,
        description = "Take a secondary that is down or gone out of the consistency group: its "
            + "volumes are no longer shipped to it (they need a full resync there) and the "
            + "consistent point stops waiting for it.")
    static final class Detach implements Callable<Integer> {
      @ParentCommand SecondaryCmd secondary;
      @Spec CommandSpec spec;

      @Parameters(index = "0", paramLabel = "ADDRESS", description = "the secondary's host:port")
      String address;

      @Option(names = "--json", description = "print one JSON object") boolean json;

      @Override
      public Integer call() {
        try (AdminClient c = secondary.admin.client()) {
          c.detachSecondary(address); // committed and applied on the answering node
          List<String> volumes = c.listSecondaries().getSecondariesList().stream()
              .filter(i -> i.getAddress().equals(address)).findFirst()
              .<List<String>>map(i -> List.copyOf(i.getVolumesList())).orElse(List.of());
          PrintWriter out = spec.commandLine().getOut();
          if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("address", address);
            o.put("detached", true);
            o.put("volumes", volumes);
            out.println(Json.GSON.toJson(o));
          } else {
            out.println("secondary " + address + " detached; volume(s) "
                + String.join(", ", volumes) + " need a full resync there");
          }
          out.flush();
          return 0;
        }
      }
    }
  }

  @Command(name = "cts-period", mixinStandardHelpOptions = true,
      description = "Set the epoch period of the whole cluster; it survives leader changes and "
          + "restarts. Prints the period the leader now runs at.")
  static final class CtsPeriodCmd implements Callable<Integer> {
    @ParentCommand AdminCommand admin;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DURATION", converter = CtsPeriodConverter.class,
        description = "10ms to 60s, e.g. 100ms or 1s; 'default' goes back to each node's cts.period")
    long periodMillis;

    @Option(names = "--json", description = "print {\"ctsPeriodMillis\": N}")
    boolean json;

    @Override
    public Integer call() {
      try (AdminClient c = admin.client()) {
        c.setCtsPeriod(periodMillis);
        long effective = EpochsCommand.fromLeader(c).getCtsPeriodMillis();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
          out.println(Json.GSON.toJson(Map.of("ctsPeriodMillis", effective)));
        } else {
          out.printf("epoch period %d ms (%s)%n", effective,
              periodMillis == 0 ? "each node's cts.period" : "cluster-wide");
        }
        out.flush();
        return 0;
      }
    }
  }

  /** A period in whole milliseconds ({@code 100ms}, {@code 1s}), or {@code default} as 0. */
  static final class CtsPeriodConverter implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      if (value.equalsIgnoreCase("default")) {
        return 0L;
      }
      try {
        Duration d = Units.parseDuration(value);
        if (d.isZero() || d.toNanosPart() % 1_000_000 != 0) {
          throw new CommandLine.TypeConversionException("'" + value + "' is not a period: use a "
              + "positive whole number of milliseconds, e.g. 100ms or 1s; or 'default'");
        }
        return d.toMillis();
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage() + "; or 'default'");
      } catch (ArithmeticException e) {
        throw new CommandLine.TypeConversionException("'" + value + "' is too long a period");
      }
    }
  }
}
