package dev.ferry.node.cli;

import com.google.common.net.HostAndPort;
import dev.ferry.client.AdminClient;
import dev.ferry.proto.admin.EpochSize;
import dev.ferry.proto.admin.EpochsReply;
import dev.ferry.proto.admin.StatusReply;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code ferry admin epochs}: epoch progress, RPO, coordination pause and epoch sizes. */
@Command(name = "epochs", mixinStandardHelpOptions = true,
    description = "Open, last closed and last applied epoch, RPO, coordination pause, epoch sizes.")
final class EpochsCommand implements Callable<Integer> {
  @ParentCommand AdminCommand admin;
  @Spec CommandSpec spec;

  @Option(names = "--json", description = "print one JSON object")
  boolean json;

  /**
   * The Epochs reply of the leader when it is known (the pause figures live there, and its
   * period is the one the barrier runs at), else of any node.
   */
  static EpochsReply fromLeader(AdminClient c) {
    StatusReply s = c.status();
    String leaderAddress = s.getMembersList().stream().filter(m -> m.getId().equals(s.getLeader()))
        .map(m -> m.getAddress()).findFirst().orElse(null);
    if (leaderAddress == null) {
      return c.epochs();
    }
    try (AdminClient leader = new AdminClient(List.of(HostAndPort.fromString(leaderAddress)),
        Duration.ofSeconds(5))) {
      return leader.epochs();
    }
  }

  @Override
  public Integer call() {
    EpochsReply e;
    try (AdminClient c = admin.client()) {
      e = fromLeader(c);
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("answeredBy", e.getAnsweredBy());
      o.put("leader", e.getLeader());
      o.put("openEpoch", e.getOpenEpoch());
      o.put("lastClosedEpoch", e.getLastClosedEpoch());
      o.put("appliedEpoch", e.getAppliedEpoch());
      o.put("pendingEpochs", e.getPendingEpochs());
      o.put("rpoMillis", e.getRpoMillis());
      o.put("ctsPeriodMillis", e.getCtsPeriodMillis());
      o.put("pauseLastMicros", e.getPauseLastMicros());
      o.put("pauseP50Micros", e.getPauseP50Micros());
      o.put("pauseP99Micros", e.getPauseP99Micros());
      o.put("barriers", e.getBarriers());
      List<Map<String, Object>> recent = new ArrayList<>();
      for (EpochSize z : e.getRecentList()) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("epoch", z.getEpoch());
        r.put("updates", z.getUpdates());
        r.put("bytes", z.getBytes());
        r.put("closedAtMillis", z.getClosedAtMillis());
        recent.add(r);
      }
      o.put("recent", recent);
      o.put("consistentPointWaitsFor", e.getConsistentPointWaitsForList());
      out.println(Json.GSON.toJson(o));
    } else {
      out.printf("open epoch %d, last closed %d, last applied %d (%d pending), RPO %s, period %d ms%n",
          e.getOpenEpoch(), e.getLastClosedEpoch(), e.getAppliedEpoch(), e.getPendingEpochs(),
          e.getRpoMillis() < 0 ? "-" : e.getRpoMillis() + " ms", e.getCtsPeriodMillis());
      if (e.getConsistentPointWaitsForCount() > 0) {
        out.println("the next epoch to apply waits for secondary "
            + String.join(", ", e.getConsistentPointWaitsForList()));
      }
      if (e.getLeader()) {
        out.printf("coordination pause: last %,d us, p50 %,d us, p99 %,d us over %,d barriers (%s)%n",
            e.getPauseLastMicros(), e.getPauseP50Micros(), e.getPauseP99Micros(), e.getBarriers(),
            e.getAnsweredBy());
        out.printf("%-10s %-10s %s%n", "EPOCH", "UPDATES", "BYTES");
        for (EpochSize z : e.getRecentList()) {
          out.printf("%-10d %-10d %d%n", z.getEpoch(), z.getUpdates(), z.getBytes());
        }
      }
    }
    out.flush();
    return 0;
  }
}
