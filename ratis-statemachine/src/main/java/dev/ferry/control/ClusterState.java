package dev.ferry.control;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import com.google.common.collect.ImmutableSortedSet;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.control.MemberState;
import java.util.Objects;
import java.util.Optional;

/**
 * The replicated control state: members, volumes, the portion assignment (with its version),
 * the epoch lifecycle, and the epoch period if one was set for the whole cluster
 * ({@code ctsPeriodMillis}; 0 = every node uses its own {@code cts.period}), and how many
 * durable copies of every update exist before its ack ({@code copies}). Immutable;
 * {@link ClusterTransitions#apply} derives the next state.
 */
public record ClusterState(
    long assignmentVersion,
    ImmutableSortedMap<String, Member> members,
    ImmutableSortedMap<String, Volume> volumes,
    ImmutableSortedMap<String, VolumeAssignment> assignment,
    long openEpoch,
    ImmutableSortedMap<Long, EpochRecord> epochs,
    long consistentEpoch,
    long consistentEpochClosedAtMillis,
    long ctsPeriodMillis,
    int copies) {

  /** Copies of every update when none was set: the owner's and one mirror's. */
  public static final int DEFAULT_COPIES = 2;

  /** The state of a cluster that has just been formatted: no members, epoch 1 open. */
  public static final ClusterState EMPTY =
      new ClusterState(
          0,
          ImmutableSortedMap.of(),
          ImmutableSortedMap.of(),
          ImmutableSortedMap.of(),
          1,
          ImmutableSortedMap.of(),
          0,
          0,
          0,
          DEFAULT_COPIES);

  public ClusterState {
    Objects.requireNonNull(members);
    Objects.requireNonNull(volumes);
    Objects.requireNonNull(assignment);
    Objects.requireNonNull(epochs);
  }

  public Optional<Member> member(String id) {
    return Optional.ofNullable(members.get(id));
  }

  /**
   * Whether {@code id} is still a member with {@code incarnation} and not declared FAILED: a
   * barrier round's Seal from it counts only then (it may have answered after dropping what it
   * numbered, once it learned it had failed).
   */
  public boolean stillInRound(String id, long incarnation) {
    Member m = members.get(id);
    return m != null && m.incarnation() == incarnation && m.state() != MemberState.FAILED;
  }

  /** Ids of the ACTIVE members, sorted. */
  /**
   * FAILED members whose failure is not settled yet ({@link Member#failureUnsettled}): no more
   * than {@code copies - 1} may exist at once.
   */
  public long unsettledFailures() {
    return members.values().stream().filter(m -> m.failureUnsettled(consistentEpoch)).count();
  }

  public ImmutableList<String> activeMemberIds() {
    return members.values().stream()
        .filter(m -> m.state() == MemberState.ACTIVE)
        .map(Member::id)
        .collect(ImmutableList.toImmutableList());
  }

  /**
   * The recovery point objective as of {@code nowMillis}: now minus the close time of the last
   * applied epoch (0 at least, against clock skew); -1 before any epoch is applied.
   */
  public long rpoMillis(long nowMillis) {
    return consistentEpoch == 0 ? -1 : Math.max(0, nowMillis - consistentEpochClosedAtMillis);
  }

  /** Every secondary named by a volume (detached or not), with its volumes' names, sorted. */
  public ImmutableSortedMap<String, ImmutableList<String>> secondaryVolumes() {
    java.util.TreeMap<String, ImmutableList.Builder<String>> out = new java.util.TreeMap<>();
    for (Volume v : volumes.values()) {
      if (!v.secondary().isEmpty()) {
        out.computeIfAbsent(v.secondary(), k -> ImmutableList.builder()).add(v.name());
      }
    }
    ImmutableSortedMap.Builder<String, ImmutableList<String>> b = ImmutableSortedMap.naturalOrder();
    out.forEach((k, v) -> b.put(k, v.build()));
    return b.build();
  }

  /**
   * The last epoch through which {@code secondary}'s images are consistent as far as this state
   * knows: the consistent epoch, then each following epoch it applied (or committed without
   * anything for it), in order. For a detached secondary, the epoch recorded at the detach.
   */
  public long lastAppliedBy(String secondary) {
    for (Volume v : volumes.values()) {
      if (v.detached() && v.secondary().equals(secondary)) {
        return v.detachedAppliedEpoch();
      }
    }
    long last = consistentEpoch;
    for (EpochRecord e : epochs.values()) {
      if (e.appliedBy().contains(secondary)
          || (e.state() == EpochState.COMMITTED && !e.secondaries().contains(secondary))) {
        last = e.number();
      } else {
        break;
      }
    }
    return last;
  }

  /**
   * The secondaries the consistent point waits for: those that still have to stage a portion
   * of the first epoch to apply (its transfer to them is not done) or, once it is committed,
   * to apply it. Empty when nothing waits or when it waits for the coordinator (staged, not yet
   * committed). Normal for a moment after each epoch closes; a secondary that stays here while
   * epochs pile up holds the consistent point back.
   */
  public ImmutableSortedSet<String> consistentPointWaitsFor() {
    if (epochs.isEmpty()) {
      return ImmutableSortedSet.of();
    }
    EpochRecord first = epochs.firstEntry().getValue();
    java.util.TreeSet<String> out = new java.util.TreeSet<>();
    if (first.state() == EpochState.CLOSED) {
      for (Portion p : first.watermarks().keySet()) {
        Volume v = volumes.get(p.volume());
        if (!first.staged().contains(p) && v != null && v.shipped()) {
          out.add(v.secondary());
        }
      }
    } else if (first.state() == EpochState.COMMITTED) {
      out.addAll(first.secondaries());
      out.removeAll(first.appliedBy());
    }
    return ImmutableSortedSet.copyOfSorted(out);
  }

  public long portionCount() {
    return assignment.values().stream().mapToLong(VolumeAssignment::regions).sum();
  }

  ClusterState withMembers(ImmutableSortedMap<String, Member> newMembers) {
    return new ClusterState(assignmentVersion, newMembers, volumes, assignment, openEpoch, epochs,
        consistentEpoch, consistentEpochClosedAtMillis, ctsPeriodMillis, copies);
  }

  ClusterState withVolumes(ImmutableSortedMap<String, Volume> newVolumes) {
    return new ClusterState(assignmentVersion, members, newVolumes, assignment, openEpoch, epochs,
        consistentEpoch, consistentEpochClosedAtMillis, ctsPeriodMillis, copies);
  }

  ClusterState withAssignment(ImmutableSortedMap<String, VolumeAssignment> newAssignment) {
    return new ClusterState(assignmentVersion + 1, members, volumes, newAssignment, openEpoch,
        epochs, consistentEpoch, consistentEpochClosedAtMillis, ctsPeriodMillis, copies);
  }

  ClusterState withEpochs(long newOpenEpoch, ImmutableSortedMap<Long, EpochRecord> newEpochs,
      long newConsistentEpoch, long newConsistentClosedAt) {
    return new ClusterState(assignmentVersion, members, volumes, assignment, newOpenEpoch,
        newEpochs, newConsistentEpoch, newConsistentClosedAt, ctsPeriodMillis, copies);
  }

  ClusterState withCtsPeriodMillis(long newCtsPeriodMillis) {
    return new ClusterState(assignmentVersion, members, volumes, assignment, openEpoch, epochs,
        consistentEpoch, consistentEpochClosedAtMillis, newCtsPeriodMillis, copies);
  }

  ClusterState withCopies(int newCopies) {
    return new ClusterState(assignmentVersion, members, volumes, assignment, openEpoch, epochs,
        consistentEpoch, consistentEpochClosedAtMillis, ctsPeriodMillis, newCopies);
  }
}
