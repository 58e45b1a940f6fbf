package dev.ferry.control;

import static dev.ferry.control.CommandRejected.conflict;
import static dev.ferry.control.CommandRejected.invalid;
import static dev.ferry.control.CommandRejected.notFound;

import com.google.common.collect.ImmutableSortedMap;
import com.google.common.collect.ImmutableSortedSet;
import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CreateVolume;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.control.MarkFailed;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.PortionPlacement;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RegisterMember;
import dev.ferry.proto.control.RejectCode;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The pure transition function of the control state: {@code apply(state, command)} returns the
 * next state or a rejection with a reason. No I/O, no clock, no randomness: every replica that
 * applies the same commands reaches the same state, byte for byte.
 */
public final class ClusterTransitions {
  /** Member ids and volume names: a letter or digit, then up to 63 of [A-Za-z0-9._-]. */
  public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  private static final Pattern ADDRESS = Pattern.compile("[^\\s:]+:(\\d{1,5})");

  /** The range of {@code copies} ({@code SetCopies}): the owner's plus 1..6 mirrors. */
  public static final int MIN_COPIES = 2;

  public static final int MAX_COPIES = 7;

  /** The range of an epoch period set for the whole cluster ({@code SetCtsPeriod}), in ms. */
  public static final long MIN_CTS_PERIOD_MILLIS = 10;

  public static final long MAX_CTS_PERIOD_MILLIS = 60_000;

  private ClusterTransitions() {}

  /** {@link #apply(ClusterState, Command, long)} without the proposer's term check. */
  public static Outcome apply(ClusterState state, Command command) {
    return apply(state, command, 0);
  }

  /**
   * @param entryTerm the Raft term of the log entry that carries {@code command} (0: not known,
   *     as when a command is validated before it is proposed): a command that names the term
   *     its proposer led in (CloseEpoch, MarkFailed) is refused in an entry of another term
   */
  public static Outcome apply(ClusterState state, Command command, long entryTerm) {
    try {
      requireProposerTerm(command, entryTerm);
      return new Outcome.Accepted(dispatch(state, command));
    } catch (CommandRejected r) {
      return new Outcome.Rejected(state, r.code, r.getMessage());
    }
  }

  /**
   * A leader's decision is valid in its own term only: once it is deposed, a round it ran on
   * old knowledge (a barrier whose Freeze named its own moving portions, a failure it saw while
   * it was itself paused) reaches the log through the new leader, in a later term.
   */
  private static void requireProposerTerm(Command c, long entryTerm) {
    long proposerTerm = switch (c.getKindCase()) {
      case CLOSE_EPOCH -> c.getCloseEpoch().getLeaderTerm();
      case MARK_FAILED -> c.getMarkFailed().getLeaderTerm();
      default -> 0;
    };
    if (proposerTerm != 0 && entryTerm != 0 && proposerTerm != entryTerm) {
      throw conflict("proposed by the leader of term " + proposerTerm + "; the log is in term "
          + entryTerm + " now (that leader was deposed)");
    }
  }

  private static ClusterState dispatch(ClusterState s, Command c) {
    return switch (c.getKindCase()) {
      case REGISTER_MEMBER -> registerMember(s, c.getRegisterMember());
      case MARK_FAILED -> markFailed(s, c.getMarkFailed());
      case DRAIN -> drain(s, c.getDrain().getId());
      case REMOVE -> remove(s, c.getRemove().getId());
      case CREATE_VOLUME -> createVolume(s, c.getCreateVolume());
      case DELETE_VOLUME -> deleteVolume(s, c.getDeleteVolume().getName());
      case REASSIGN_PORTIONS -> reassign(s, c.getReassignPortions());
      case CLOSE_EPOCH -> EpochTransitions.closeEpoch(s, c.getCloseEpoch());
      case EPOCH_STAGED -> EpochTransitions.epochStaged(s, c.getEpochStaged());
      case COMMIT_EPOCH -> EpochTransitions.commitEpoch(s, c.getCommitEpoch());
      case EPOCH_APPLIED -> EpochTransitions.epochApplied(s, c.getEpochApplied());
      case SET_CTS_PERIOD -> setCtsPeriod(s, c.getSetCtsPeriod().getPeriodMillis());
      case AMEND_WATERMARK -> EpochTransitions.amendWatermark(s, c.getAmendWatermark());
      case SET_COPIES -> setCopies(s, c.getSetCopies().getCopies());
      case DETACH_SECONDARY -> detachSecondary(s, c.getDetachSecondary().getSecondary());
      case KIND_NOT_SET -> throw invalid("empty command");
    };
  }

  // ---- membership ----

  private static ClusterState registerMember(ClusterState s, RegisterMember r) {
    checkName("member id", r.getId());
    if (!ADDRESS.matcher(r.getAddress()).matches()
        || Integer.parseInt(r.getAddress().substring(r.getAddress().lastIndexOf(':') + 1))
            > 65535) {
      throw invalid("member address must be host:port, got '" + r.getAddress() + "'");
    }
    if (!r.getIngestAddress().isEmpty() && !ADDRESS.matcher(r.getIngestAddress()).matches()) {
      throw invalid("member ingest address must be host:port, got '" + r.getIngestAddress() + "'");
    }
    if (r.getIncarnation() < 1) {
      throw invalid("member incarnation must be >= 1, got " + r.getIncarnation());
    }
    Member existing = s.members().get(r.getId());
    Member joining = new Member(r.getId(), r.getAddress(), MemberState.JOINING, r.getIncarnation(),
        r.getIngestAddress());
    if (existing == null) {
      return s.withMembers(put(s.members(), joining));
    }
    switch (existing.state()) {
      case REMOVED:
        throw new CommandRejected(RejectCode.ALREADY_EXISTS,
            "member " + r.getId() + " was removed; a new node needs a new id");
      case FAILED:
        if (r.getIncarnation() <= existing.incarnation()) {
          throw conflict("member " + r.getId() + " failed in incarnation "
              + existing.incarnation() + "; it must rejoin with a higher incarnation");
        }
        if (existing.failureUnsettled(s.consistentEpoch())) {
          // the FAILED record is what counts this failure against the copies - 1 the cluster
          // survives (markFailed below, the coordinator, Seal): replacing it now would let a
          // second member be failed while the first one's updates are still being copied again
          throw conflict("member " + r.getId() + " failed in incarnation "
              + existing.incarnation() + " in epoch " + existing.failedAtEpoch()
              + ", a failure not settled yet (epoch " + (existing.failedAtEpoch() + 1)
              + " is not applied); it rejoins once it is");
        }
        return s.withMembers(put(s.members(), joining));
      default:
        if (r.getIncarnation() == existing.incarnation()
            && r.getAddress().equals(existing.address())
            && joining.ingestAddress().equals(existing.ingestAddress())) {
          return s; // the same node registering again after a restart: nothing changes
        }
        throw new CommandRejected(RejectCode.ALREADY_EXISTS,
            "member " + r.getId() + " is already registered (" + existing.state()
                + ", incarnation " + existing.incarnation() + ", " + existing.address() + ")");
    }
  }

  private static ClusterState markFailed(ClusterState s, MarkFailed c) {
    String id = c.getId();
    Member m = requireMember(s, id);
    if (m.state() == MemberState.FAILED || m.state() == MemberState.REMOVED) {
      throw conflict("member " + id + " is already " + m.state());
    }
    if (c.getIncarnation() != 0 && c.getIncarnation() != m.incarnation()) {
      // the proposer watched an earlier incarnation fail; this one came back since
      throw conflict("member " + id + " is in incarnation " + m.incarnation() + ", not "
          + c.getIncarnation());
    }
    long unsettled = s.unsettledFailures();
    if (unsettled >= s.copies() - 1) {
      // a further failure now could take the last copy of an acknowledged update: its
      // portions wait for it to come back instead (DESIGN.md 6.1; the coordinator checks this
      // before proposing, on a state that may be a step behind the log)
      throw conflict("member " + id + " cannot be declared failed: " + unsettled
          + " failure(s) not settled yet, and copies " + s.copies() + " survive "
          + (s.copies() - 1));
    }
    return rebalance(s.withMembers(put(s.members(), m.failedIn(s.openEpoch()))));
  }

  private static ClusterState drain(ClusterState s, String id) {
    Member m = requireMember(s, id);
    if (m.state() != MemberState.ACTIVE && m.state() != MemberState.JOINING) {
      throw conflict("member " + id + " is " + m.state() + "; only ACTIVE or JOINING members drain");
    }
    int activeAfter = s.activeMemberIds().size() - (m.isActive() ? 1 : 0);
    if (!s.volumes().isEmpty() && activeAfter < s.copies()) {
      throw conflict("draining " + id + " would leave " + activeAfter + " active member(s);"
          + " every portion needs its " + s.copies() + " copies on different members");
    }
    // its portions move at the next epoch end, with the CloseEpoch (claims 10, 11): moving
    // them now would change owners inside an epoch
    return s.withMembers(put(s.members(), m.withState(MemberState.DRAINING)));
  }

  private static ClusterState remove(ClusterState s, String id) {
    Member m = requireMember(s, id);
    if (m.state() == MemberState.ACTIVE) {
      throw conflict("member " + id + " is ACTIVE; drain it first (or it must have failed)");
    }
    if (m.state() == MemberState.REMOVED) {
      throw conflict("member " + id + " is already REMOVED");
    }
    long holds = s.assignment().values().stream().mapToLong(a -> a.placementsOf(id)).sum();
    if (holds > 0) {
      throw conflict("member " + id + " still holds " + holds + " placement(s); a DRAINING"
          + " member gives them away at the next epoch end");
    }
    return s.withMembers(put(s.members(), m.withState(MemberState.REMOVED)));
  }

  // ---- volumes ----

  private static ClusterState createVolume(ClusterState s, CreateVolume c) {
    checkName("volume name", c.getName());
    if (s.volumes().containsKey(c.getName())) {
      throw new CommandRejected(RejectCode.ALREADY_EXISTS,
          "volume " + c.getName() + " already exists");
    }
    if (c.getSizeBytes() <= 0) {
      throw invalid("volume size must be positive, got " + c.getSizeBytes() + " bytes");
    }
    if (c.getRegionSizeBytes() <= 0) {
      throw invalid("region size must be positive, got " + c.getRegionSizeBytes() + " bytes");
    }
    if (c.getRegionSizeBytes() > c.getSizeBytes()) {
      throw invalid("region size " + c.getRegionSizeBytes()
          + " bytes is larger than the volume size " + c.getSizeBytes() + " bytes");
    }
    long minRegion = limit(c.getMinRegionSizeBytes(), ControlLimits.DEFAULT_MIN_REGION_SIZE,
        "volume.min.region.size", ControlLimits.MIN_REGION_SIZE_FLOOR, Long.MAX_VALUE);
    long perCluster = limit(c.getMaxPortionsPerCluster(), ControlLimits.MAX_PORTIONS_PER_CLUSTER,
        "cluster.max.portions", 1, ControlLimits.MAX_PORTIONS_PER_CLUSTER);
    long perVolume = limit(c.getMaxPortionsPerVolume(),
        ControlLimits.DEFAULT_MAX_PORTIONS_PER_VOLUME, "volume.max.portions", 1,
        ControlLimits.MAX_PORTIONS_PER_CLUSTER);
    // a volume smaller than the minimum region is one region of its own size
    if (c.getRegionSizeBytes() < minRegion && c.getRegionSizeBytes() < c.getSizeBytes()) {
      throw invalid("region size " + ControlLimits.bytes(c.getRegionSizeBytes())
          + " is below the minimum " + ControlLimits.bytes(minRegion)
          + " (volume.min.region.size)");
    }
    // not (size + regionSize - 1) / regionSize: that overflows for sizes near Long.MAX_VALUE
    long regions = c.getSizeBytes() / c.getRegionSizeBytes()
        + (c.getSizeBytes() % c.getRegionSizeBytes() == 0 ? 0 : 1);
    if (regions > perVolume) {
      throw invalid("volume would have " + regions + " portions, more than the maximum "
          + perVolume + " per volume (volume.max.portions); use a region size of at least "
          + ControlLimits.bytes(regionFor(c.getSizeBytes(), perVolume, minRegion)));
    }
    long inCluster = s.volumes().values().stream().mapToLong(Volume::regionCount).sum();
    if (inCluster + regions > perCluster) {
      throw invalid("volume would take the cluster to " + (inCluster + regions)
          + " portions (" + inCluster + " now + " + regions + "), more than the maximum "
          + perCluster + " (cluster.max.portions)");
    }
    if (!c.getSecondary().isEmpty() && !ADDRESS.matcher(c.getSecondary()).matches()) {
      throw invalid("secondary must be host:port, got '" + c.getSecondary() + "'");
    }
    checkNotDetached(s, c.getSecondary());
    int active = s.activeMemberIds().size();
    if (active < s.copies()) {
      throw conflict("a volume needs at least " + s.copies() + " active members (its owner and "
          + (s.copies() - 1) + " mirror(s) per portion, copies " + s.copies() + "), the cluster has "
          + active);
    }
    Volume v = new Volume(c.getName(), c.getSizeBytes(), c.getRegionSizeBytes(), c.getSecondary());
    return rebalance(s.withVolumes(put(s.volumes(), v.name(), v)));
  }

  /** A limit from a command: 0 = the default; outside [floor, ceiling] the command is invalid. */
  private static long limit(long given, long defaultValue, String key, long floor, long ceiling) {
    if (given == 0) {
      return defaultValue;
    }
    if (given < floor || given > ceiling) {
      throw invalid(key + " " + given + " is outside " + floor + ".." + ceiling);
    }
    return given;
  }

  /** The smallest region giving at most maxPortions portions, from 1 MiB on in whole MiB. */
  private static long regionFor(long size, long maxPortions, long minRegion) {
    long region = Math.max(minRegion, size / maxPortions + (size % maxPortions == 0 ? 0 : 1));
    long mib = 1L << 20;
    return region <= mib || region % mib == 0 || region > Long.MAX_VALUE - mib ? region
        : (region / mib + 1) * mib;
  }

  private static ClusterState deleteVolume(ClusterState s, String name) {
    if (!s.volumes().containsKey(name)) {
      throw notFound("volume " + name + " does not exist");
    }
    for (EpochRecord e : s.epochs().values()) {
      for (Portion p : e.watermarks().keySet()) {
        if (p.volume().equals(name)) {
          throw conflict("volume " + name + " has updates in epoch " + e.number()
              + " that are not applied yet");
        }
      }
    }
    TreeMap<String, Volume> volumes = new TreeMap<>(s.volumes());
    volumes.remove(name);
    // its secondary may have no volume left: then no epoch still to apply waits for it
    return regroupSecondaries(rebalance(s.withVolumes(ImmutableSortedMap.copyOfSorted(volumes))));
  }

  // ---- secondaries ----

  /**
   * Takes a secondary out of the consistency group: its volumes are marked detached (they keep
   * their secondary, need a full resync there, and are never shipped to it again), and no epoch
   * still to apply waits for it any more.
   */
  private static ClusterState detachSecondary(ClusterState s, String secondary) {
    if (!ADDRESS.matcher(secondary).matches()) {
      throw invalid("secondary must be host:port, got '" + secondary + "'");
    }
    TreeMap<String, Volume> volumes = new TreeMap<>(s.volumes());
    long applied = s.lastAppliedBy(secondary);
    int attached = 0;
    int detached = 0;
    for (Volume v : s.volumes().values()) {
      if (v.secondary().equals(secondary)) {
        if (v.detached()) {
          detached++;
        } else {
          attached++;
          volumes.put(v.name(), v.detach(applied));
        }
      }
    }
    if (attached == 0 && detached == 0) {
      throw notFound("no volume is replicated to secondary " + secondary);
    }
    if (attached == 0) {
      throw conflict("secondary " + secondary + " is already detached (" + detached
          + " volume(s) need a full resync)");
    }
    return regroupSecondaries(s.withVolumes(ImmutableSortedMap.copyOfSorted(volumes)));
  }

  /** A detached secondary takes no new volume: its images are behind until a full resync. */
  private static void checkNotDetached(ClusterState s, String secondary) {
    if (secondary.isEmpty()) {
      return;
    }
    for (Volume v : s.volumes().values()) {
      if (v.detached() && v.secondary().equals(secondary)) {
        throw conflict("secondary " + secondary + " is detached (volume " + v.name()
            + " needs a full resync there); use another secondary, or delete its volumes first");
      }
    }
  }

  /**
   * Brings the epochs still to apply in line with the volumes that are shipped: a secondary
   * that no shipped volume names any more is dropped from them, and their portions of volumes
   * not shipped (detached) count as staged. Then the consistent point moves over every epoch
   * that this completes.
   */
  private static ClusterState regroupSecondaries(ClusterState s) {
    Set<String> shippedTo = new HashSet<>();
    for (Volume v : s.volumes().values()) {
      if (v.shipped()) {
        shippedTo.add(v.secondary());
      }
    }
    TreeMap<Long, EpochRecord> epochs = new TreeMap<>();
    boolean changed = false;
    for (EpochRecord e : s.epochs().values()) {
      EpochRecord next = e;
      if (!shippedTo.containsAll(e.secondaries())) {
        TreeSet<String> kept = new TreeSet<>(e.secondaries());
        kept.retainAll(shippedTo);
        next = new EpochRecord(e.number(), e.state(), e.watermarks(), e.staged(),
            ImmutableSortedSet.copyOfSorted(kept), e.appliedBy(), e.closedAtMillis());
      }
      if (next.state() == EpochState.CLOSED || next.state() == EpochState.STAGED) {
        TreeSet<Portion> staged = new TreeSet<>(next.staged());
        for (Portion p : next.watermarks().keySet()) {
          Volume v = s.volumes().get(p.volume());
          if (v != null && !v.shipped()) {
            staged.add(p);
          }
        }
        if (staged.size() != next.staged().size()) {
          next = next.withStaged(ImmutableSortedSet.copyOfSorted(staged));
        }
        if (next.state() == EpochState.CLOSED && next.fullyStaged()) {
          next = next.withState(EpochState.STAGED);
        }
      }
      changed |= !next.equals(e);
      epochs.put(e.number(), next);
    }
    return changed ? EpochTransitions.advanceConsistentPoint(s, ImmutableSortedMap.copyOfSorted(epochs)) : s;
  }

  // ---- assignment ----

  /** Rebalances over the ACTIVE members; bumps the version only if a placement changed. */
  private static ClusterState rebalance(ClusterState s) {
    ImmutableSortedMap<String, VolumeAssignment> next =
        AssignmentPolicy.balance(s.volumes(), s.assignment(), s.activeMemberIds(), s.copies());
    return next.equals(s.assignment()) ? s : s.withAssignment(next);
  }

  static ClusterState reassign(ClusterState s, ReassignPortions r) {
    if (r.getBaseVersion() != s.assignmentVersion()) {
      throw conflict("stale assignment version " + r.getBaseVersion()
          + "; the current version is " + s.assignmentVersion());
    }
    ImmutableSortedMap<String, Member> members = s.members();
    Set<String> eligible = new HashSet<>(s.activeMemberIds());
    for (String id : r.getActivateList()) {
      Member m = requireMember(s, id);
      if (m.state() != MemberState.JOINING) {
        throw conflict("member " + id + " is " + m.state() + ", only JOINING members activate");
      }
      eligible.add(id);
      members = put(members, m.withState(MemberState.ACTIVE));
    }
    Map<String, Map<Integer, String[]>> byVolume = new HashMap<>();
    for (PortionPlacement p : r.getChangesList()) {
      Volume v = s.volumes().get(p.getVolume());
      if (v == null) {
        throw notFound("volume " + p.getVolume() + " does not exist");
      }
      if (p.getRegion() < 0 || p.getRegion() >= v.regionCount()) {
        throw invalid("region " + p.getRegion() + " is outside volume " + v.name() + " (0.."
            + (v.regionCount() - 1) + ")");
      }
      String[] placement = new String[2 + p.getMoreMirrorsCount()];
      placement[0] = p.getOwner();
      placement[1] = p.getMirror().isEmpty() ? null : p.getMirror();
      for (int k = 0; k < p.getMoreMirrorsCount(); k++) {
        placement[2 + k] = p.getMoreMirrors(k);
      }
      if (byVolume.computeIfAbsent(v.name(), k -> new HashMap<>())
              .put((int) p.getRegion(), placement) != null) {
        throw invalid("portion " + v.name() + "/" + p.getRegion() + " appears twice");
      }
    }
    TreeMap<String, VolumeAssignment> next = new TreeMap<>(s.assignment());
    byVolume.forEach((volume, changes) -> next.put(volume, next.get(volume).with(changes)));
    checkPlacements(next, eligible, s.copies());
    ClusterState withMembers = s.withMembers(members);
    return withMembers.withAssignment(ImmutableSortedMap.copyOfSorted(next));
  }

  /**
   * Every portion placed on eligible members: copies - 1 mirrors (as many as the members allow),
   * none the owner, none twice.
   */
  private static void checkPlacements(Map<String, VolumeAssignment> assignment,
      Set<String> eligible, int copies) {
    int wanted = Math.max(0, Math.min(copies - 1, eligible.size() - 1));
    for (Map.Entry<String, VolumeAssignment> e : assignment.entrySet()) {
      VolumeAssignment a = e.getValue();
      for (int r = 0; r < a.regions(); r++) {
        String owner = a.owner(r);
        List<String> mirrors = a.mirrors(r);
        String where = e.getKey() + "/" + r;
        if (owner == null || !eligible.contains(owner)) {
          throw conflict("portion " + where + ": owner '" + (owner == null ? "" : owner)
              + "' is not an active member");
        }
        if (mirrors.size() != wanted) {
          throw conflict("portion " + where + " has " + mirrors.size() + " mirror(s); with copies "
              + copies + " and " + eligible.size() + " active member(s) it needs " + wanted);
        }
        for (int k = 0; k < mirrors.size(); k++) {
          String mirror = mirrors.get(k);
          if (!eligible.contains(mirror)) {
            throw conflict("portion " + where + ": mirror '" + mirror + "' is not an active member");
          } else if (mirror.equals(owner)) {
            throw conflict("portion " + where + ": owner and mirror are both " + owner);
          } else if (mirrors.subList(0, k).contains(mirror)) {
            throw conflict("portion " + where + ": " + mirror + " mirrors it twice");
          }
        }
      }
    }
  }

  // ---- epoch period ----

  /** 0 drops the cluster-wide period: every node goes back to its own {@code cts.period}. */
  private static ClusterState setCopies(ClusterState s, int copies) {
    if (copies < MIN_COPIES || copies > MAX_COPIES) {
      throw invalid("copies must be " + MIN_COPIES + ".." + MAX_COPIES + ", got " + copies);
    }
    if (copies != s.copies() && !s.volumes().isEmpty()) {
      throw conflict("copies can change only while no volume exists (" + s.volumes().size()
          + " volume(s); copies is " + s.copies() + ")");
    }
    return s.withCopies(copies);
  }

  private static ClusterState setCtsPeriod(ClusterState s, long millis) {
    if (millis != 0 && (millis < MIN_CTS_PERIOD_MILLIS || millis > MAX_CTS_PERIOD_MILLIS)) {
      throw invalid("cts period must be between " + MIN_CTS_PERIOD_MILLIS + " and "
          + MAX_CTS_PERIOD_MILLIS + " ms (or 0: each node's cts.period), got " + millis + " ms");
    }
    return s.withCtsPeriodMillis(millis);
  }

  // ---- helpers ----

  private static void checkName(String what, String name) {
    if (!NAME.matcher(name).matches()) {
      throw invalid(what + " '" + name + "' is not valid: use 1-64 of [A-Za-z0-9._-], "
          + "starting with a letter or digit");
    }
  }

  private static Member requireMember(ClusterState s, String id) {
    Member m = s.members().get(id);
    if (m == null) {
      throw notFound("unknown member '" + id + "'");
    }
    return m;
  }

  static EpochRecord requireEpoch(ClusterState s, long number) {
    EpochRecord e = s.epochs().get(number);
    if (e == null) {
      throw notFound(number <= s.consistentEpoch()
          ? "epoch " + number + " is already applied"
          : "epoch " + number + " is not closed");
    }
    return e;
  }

  static Portion requirePortion(ClusterState s, String volume, long region) {
    Volume v = s.volumes().get(volume);
    if (v == null) {
      throw notFound("volume " + volume + " does not exist");
    }
    if (region < 0 || region >= v.regionCount()) {
      throw invalid("region " + region + " is outside volume " + volume);
    }
    return new Portion(volume, (int) region);
  }

  private static ImmutableSortedMap<String, Member> put(
      ImmutableSortedMap<String, Member> map, Member m) {
    return put(map, m.id(), m);
  }

  static <K extends Comparable<K>, V> ImmutableSortedMap<K, V> put(
      ImmutableSortedMap<K, V> map, K key, V value) {
    TreeMap<K, V> copy = new TreeMap<>(map);
    copy.put(key, value);
    return ImmutableSortedMap.copyOfSorted(copy);
  }
}
