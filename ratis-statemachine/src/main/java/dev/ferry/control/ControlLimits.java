package dev.ferry.control;

/**
 * Bounds that keep the control plane small: how fine a volume may be cut into portions and how
 * many portions a volume and the cluster may have. Every barrier and watermark message grows
 * with the number of portions (a Seal reply carries a watermark per portion the member
 * numbered, a CloseEpoch carries all of them plus the planned placement changes), so the
 * portion count is what keeps them inside their transport limits; the worst cases are computed
 * in docs/DESIGN-NOTES.md ("Bounds") and checked by {@code ControlMessageSizeTest}.
 *
 * <p>The limits a {@code CreateVolume} is checked against travel in the command (the
 * proposer's node config; 0 = the default here), so every replica decides alike; the ceilings
 * are constants of the state machine, so no configuration can take a message past its limit.
 */
public final class ControlLimits {
  /** Default {@code volume.min.region.size}: 1 MiB. */
  public static final long DEFAULT_MIN_REGION_SIZE = 1L << 20;

  /** The smallest {@code volume.min.region.size} accepted: 4 KiB, a block. */
  public static final long MIN_REGION_SIZE_FLOOR = 4L << 10;

  /** Default {@code volume.max.portions}: 65,536 (4 TiB at the default 64 MiB region). */
  public static final int DEFAULT_MAX_PORTIONS_PER_VOLUME = 1 << 16;

  /**
   * Default and ceiling of {@code cluster.max.portions} (and so of {@code volume.max.portions}):
   * 262,144, about 2.6 times the 100,000 portions the control state is benchmarked at.
   */
  public static final int MAX_PORTIONS_PER_CLUSTER = 1 << 18;

  /**
   * The largest gRPC message a node accepts on its peer server and on its peer and coordinator
   * channels (Freeze, Seal, handoff): 64 MiB. gRPC's default, 4 MiB, is below a worst-case Seal
   * reply for {@link #MAX_PORTIONS_PER_CLUSTER} portions (about 36 MB: one watermark per
   * portion, 64-character volume names, counters at their maximum).
   */
  public static final int MAX_PEER_MESSAGE_BYTES = 64 << 20;

  /**
   * The largest Raft log entry the nodes' Ratis servers take (their appender buffer byte limit;
   * the write buffer and gRPC message limit are set just above it): 48 MiB, so that a worst-case
   * CloseEpoch with watermarks only for {@link #MAX_PORTIONS_PER_CLUSTER} portions (about
   * 35.8 MB) is replicated. Ratis's default, 4 MiB, refuses a larger entry in the leader's log
   * (and the leader steps down).
   */
  public static final int MAX_RAFT_ENTRY_BYTES = 48 << 20;

  private ControlLimits() {}

  /** A byte count as an operator writes it: "1 B", "4 KiB", "1 MiB", "3000 B". */
  public static String bytes(long n) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    long v = n;
    while (u < units.length - 1 && v != 0 && v % 1024 == 0) {
      v /= 1024;
      u++;
    }
    return v + " " + units[u];
  }
}
