package dev.ferry.node.config;

import com.google.common.collect.ImmutableMap;
import com.google.common.net.HostAndPort;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * A node's configuration: a properties file plus command-line overrides. Every key, its default
 * and its meaning are in {@link #KEYS} (and docs/CONFIGURATION.md); unknown keys are an error, so
 * a typo never silently falls back to a default.
 */
public record NodeConfig(
    String id,
    Path dir,
    HostAndPort listen,
    HostAndPort raftListen,
    String clusterName,
    ImmutableMap<String, HostAndPort> peers,
    String join,
    Duration electionTimeoutMin,
    Duration electionTimeoutMax,
    long snapshotEvery,
    Duration coordinatorTick,
    long defaultRegionSize,
    DataPathConfig data,
    Duration ctsPeriod,
    int ctsMaxPendingEpochs,
    Duration heartbeatInterval,
    Duration failureTimeout,
    HostAndPort metricsListen,
    VolumeLimits volumeLimits) {

  /**
   * The bounds this node's Admin service puts in every CreateVolume it proposes (the state
   * machine checks them, in log order; see ControlLimits). Give every node the same values:
   * the node that takes the command decides which apply.
   */
  public record VolumeLimits(long minRegionSize, long maxPortionsPerVolume,
      long maxPortionsPerCluster) {
    public static final VolumeLimits DEFAULTS = new VolumeLimits(
        dev.ferry.control.ControlLimits.DEFAULT_MIN_REGION_SIZE,
        dev.ferry.control.ControlLimits.DEFAULT_MAX_PORTIONS_PER_VOLUME,
        dev.ferry.control.ControlLimits.MAX_PORTIONS_PER_CLUSTER);
  }

  /** Settings of the data path: ingest, mirroring, forwarding and the journal. */
  public record DataPathConfig(
      boolean durable,
      Path journalDir,
      long journalSegmentBytes,
      long journalBudgetBytes,
      HostAndPort ingestListen,
      long maxWriteBytes,
      long streamWindowBytes,
      long nodeWindowBytes) {}

  /** Key → {default, documentation}. The defaults run a local single-node cluster unedited. */
  public static final ImmutableMap<String, String[]> KEYS =
      ImmutableMap.<String, String[]>builder()
          .put("node.id", new String[] {"n1", "this member's id: 1-64 of [A-Za-z0-9._-]"})
          .put("node.dir", new String[] {"data/${node.id}",
              "storage directory (Raft log, snapshots); relative paths are relative to the config file"})
          .put("node.listen", new String[] {"127.0.0.1:7201",
              "host:port of the node's gRPC server (Admin, health, reflection; the data path later)"})
          .put("raft.listen", new String[] {"127.0.0.1:7301", "host:port of the node's Raft peer"})
          .put("cluster.name", new String[] {"ferry", "cluster name; the Raft group id derives from it"})
          .put("cluster.peers", new String[] {"",
              "initial Raft peers as id=host:port,... (their raft.listen); empty = this node alone"})
          .put("cluster.join", new String[] {"",
              "host:port of any member's node.listen: join that running cluster instead of forming one"})
          .put("raft.election.timeout.min", new String[] {"600ms", "Raft election timeout, lower bound"})
          .put("raft.election.timeout.max", new String[] {"1200ms", "Raft election timeout, upper bound"})
          .put("raft.snapshot.every", new String[] {"1000",
              "take a control-state snapshot every this many Raft log entries"})
          .put("coordinator.tick", new String[] {"200ms",
              "how often the leader's coordinator looks for work (joining members, balance)"})
          .put("volume.default.region.size", new String[] {"64MiB",
              "region (portion) size of volumes created without --region-size"})
          .put("volume.min.region.size", new String[] {"1MiB",
              "smallest region size a volume may be created with (at least 4KiB)"})
          .put("volume.max.portions", new String[] {"65536",
              "most portions (regions) one volume may have (1..262144)"})
          .put("cluster.max.portions", new String[] {"262144",
              "most portions all volumes together may have (1..262144)"})
          .put("cts.period", new String[] {"250ms",
              "length of an epoch (consistent transaction set): how often the leader runs the barrier;"
                  + " a period set with 'ferry admin cts-period' wins over it cluster-wide"})
          .put("cts.max.pending", new String[] {"8",
              "closed epochs not yet applied at the secondaries at most; past it the open epoch"
                  + " stays open (1..1000)"})
          .put("failure.heartbeat.interval", new String[] {"200ms",
              "how often the leader's coordinator checks that every member answers"})
          .put("failure.timeout", new String[] {"1s",
              "a member that has not answered for this long is declared FAILED and its portions"
                  + " move to the others"})
          .put("data.durability", new String[] {"durable",
              "durable: both copies fsync'd before the ack (group commit); mirrored: both written, not fsync'd"})
          .put("journal.dir", new String[] {"${node.dir}/journal", "the journal's directory"})
          .put("journal.segment.size", new String[] {"64MiB", "size at which a journal segment is closed"})
          .put("journal.budget", new String[] {"512MiB",
              "journal bytes on disk at most; past it writes fail with RESOURCE_EXHAUSTED"})
          .put("ingest.listen", new String[] {"",
              "host:port for primaries' writes on a port of their own; empty = node.listen"})
          .put("ingest.max.write.size", new String[] {"1MiB", "largest accepted write"})
          .put("ingest.stream.window", new String[] {"8MiB",
              "bytes of unacknowledged writes one primary stream may have in flight"})
          .put("ingest.node.window", new String[] {"128MiB",
              "bytes of unacknowledged writes all primary streams of a node may have in flight"})
          .put("metrics.listen", new String[] {"",
              "host:port of the Prometheus metrics endpoint (GET /metrics); empty = none"})
          .build();

  public static NodeConfig load(Path file, Map<String, String> overrides) throws IOException {
    Properties props = new Properties();
    if (file != null) {
      try (Reader r = Files.newBufferedReader(file)) {
        props.load(r);
      }
    }
    Map<String, String> values = new LinkedHashMap<>();
    props.stringPropertyNames().forEach(k -> values.put(k, props.getProperty(k).trim()));
    values.putAll(overrides);
    Path base = file == null ? Path.of("") : file.toAbsolutePath().getParent();
    return fromMap(values, base);
  }

  /**
   * Builds a config from key/value pairs, filling defaults.
   *
   * @throws IllegalArgumentException naming the key when a key is unknown or a value is invalid
   */
  public static NodeConfig fromMap(Map<String, String> given, Path base) {
    for (String k : given.keySet()) {
      if (!KEYS.containsKey(k)) {
        throw new IllegalArgumentException("unknown configuration key '" + k + "'; known keys: "
            + String.join(", ", new TreeMap<>(KEYS).keySet()));
      }
    }
    Map<String, String> v = new LinkedHashMap<>();
    KEYS.forEach((k, d) -> v.put(k, given.getOrDefault(k, d[0])));
    String id = v.get("node.id");
    if (!dev.ferry.control.ClusterTransitions.NAME.matcher(id).matches()) {
      throw new IllegalArgumentException("node.id '" + id + "' is not valid: use 1-64 of [A-Za-z0-9._-]");
    }
    Path dir = base.resolve(v.get("node.dir").replace("${node.id}", id)).normalize();
    ImmutableMap.Builder<String, HostAndPort> peers = ImmutableMap.builder();
    String peerList = v.get("cluster.peers");
    if (!peerList.isBlank()) {
      for (String entry : peerList.split(",")) {
        String[] kv = entry.trim().split("=", 2);
        if (kv.length != 2) {
          throw new IllegalArgumentException("cluster.peers entry '" + entry.trim()
              + "' is not id=host:port");
        }
        peers.put(kv[0].trim(), address("cluster.peers (" + kv[0].trim() + ")", kv[1].trim()));
      }
    }
    Duration min = duration(v, "raft.election.timeout.min");
    Duration max = duration(v, "raft.election.timeout.max");
    if (max.compareTo(min) <= 0) {
      throw new IllegalArgumentException("raft.election.timeout.max (" + v.get("raft.election.timeout.max")
          + ") must be larger than raft.election.timeout.min (" + v.get("raft.election.timeout.min") + ")");
    }
    long snapshotEvery;
    try {
      snapshotEvery = Long.parseLong(v.get("raft.snapshot.every"));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("raft.snapshot.every: '" + v.get("raft.snapshot.every")
          + "' is not a whole number");
    }
    if (snapshotEvery < 1) {
      throw new IllegalArgumentException("raft.snapshot.every must be at least 1");
    }
    long regionSize = positiveSize(v, "volume.default.region.size");
    String join = v.get("cluster.join");
    if (!join.isBlank()) {
      for (String a : join.split(",")) {
        address("cluster.join", a.trim());
      }
    }
    return new NodeConfig(id, dir, address("node.listen", v.get("node.listen")),
        address("raft.listen", v.get("raft.listen")), v.get("cluster.name"), peers.buildOrThrow(),
        join, min, max, snapshotEvery, duration(v, "coordinator.tick"), regionSize,
        dataPath(v, base, dir), duration(v, "cts.period"), maxPending(v),
        duration(v, "failure.heartbeat.interval"), duration(v, "failure.timeout"),
        v.get("metrics.listen").isBlank() ? null : address("metrics.listen", v.get("metrics.listen")),
        volumeLimits(v));
  }

  private static int maxPending(Map<String, String> v) {
    String key = "cts.max.pending";
    int n;
    try {
      n = Integer.parseInt(v.get(key));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + ": '" + v.get(key) + "' is not a whole number");
    }
    if (n < 1 || n > 1000) {
      throw new IllegalArgumentException(key + " must be between 1 and 1000, got " + n);
    }
    return n;
  }

  private static VolumeLimits volumeLimits(Map<String, String> v) {
    long minRegion = positiveSize(v, "volume.min.region.size");
    if (minRegion < dev.ferry.control.ControlLimits.MIN_REGION_SIZE_FLOOR) {
      throw new IllegalArgumentException("volume.min.region.size must be at least 4KiB, got '"
          + v.get("volume.min.region.size") + "'");
    }
    return new VolumeLimits(minRegion, portions(v, "volume.max.portions"),
        portions(v, "cluster.max.portions"));
  }

  private static long portions(Map<String, String> v, String key) {
    long n;
    try {
      n = Long.parseLong(v.get(key));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + ": '" + v.get(key) + "' is not a whole number");
    }
    long ceiling = dev.ferry.control.ControlLimits.MAX_PORTIONS_PER_CLUSTER;
    if (n < 1 || n > ceiling) {
      throw new IllegalArgumentException(key + " must be between 1 and " + ceiling
          + " (barrier messages grow with the portions), got " + n);
    }
    return n;
  }

  private static DataPathConfig dataPath(Map<String, String> v, Path base, Path nodeDir) {
    String durability = v.get("data.durability");
    if (!durability.equals("durable") && !durability.equals("mirrored")) {
      throw new IllegalArgumentException("data.durability must be 'durable' or 'mirrored', got '"
          + durability + "'");
    }
    String journal = v.get("journal.dir");
    Path journalDir = journal.startsWith("${node.dir}")
        ? nodeDir.resolve(journal.substring("${node.dir}".length()).replaceFirst("^/", ""))
        : base.resolve(journal).normalize();
    String ingest = v.get("ingest.listen");
    return new DataPathConfig(durability.equals("durable"), journalDir,
        positiveSize(v, "journal.segment.size"), positiveSize(v, "journal.budget"),
        ingest.isBlank() ? null : address("ingest.listen", ingest),
        positiveSize(v, "ingest.max.write.size"), positiveSize(v, "ingest.stream.window"),
        positiveSize(v, "ingest.node.window"));
  }

  private static long positiveSize(Map<String, String> v, String key) {
    long size;
    try {
      size = Units.parseSize(v.get(key));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(key + ": " + e.getMessage());
    }
    if (size <= 0) {
      throw new IllegalArgumentException(key + " must be positive, got '" + v.get(key) + "'");
    }
    return size;
  }

  private static Duration duration(Map<String, String> v, String key) {
    try {
      return Units.parseDuration(v.get(key));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(key + ": " + e.getMessage());
    }
  }

  private static HostAndPort address(String key, String text) {
    try {
      HostAndPort hp = HostAndPort.fromString(text);
      if (!hp.hasPort() || hp.getHost().isEmpty()) {
        throw new IllegalArgumentException("missing host or port");
      }
      return hp;
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(key + ": '" + text + "' is not host:port");
    }
  }
}
