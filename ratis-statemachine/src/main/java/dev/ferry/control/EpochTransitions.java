package dev.ferry.control;

import static dev.ferry.control.CommandRejected.conflict;
import static dev.ferry.control.CommandRejected.invalid;

import com.google.common.collect.ImmutableSortedMap;
import com.google.common.collect.ImmutableSortedSet;
import dev.ferry.proto.control.AmendWatermark;
import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.CommitEpoch;
import dev.ferry.proto.control.EpochApplied;
import dev.ferry.proto.control.EpochStaged;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.control.PortionRef;
import dev.ferry.proto.control.RoundMember;
import dev.ferry.proto.control.Watermark;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The epoch lifecycle's part of {@link ClusterTransitions}: close (watermarks, and the planned
 * assignment change that rides on it), staged, amended, committed, applied, and the consistent
 * point that follows. Pure, like the rest: called only from {@code ClusterTransitions.apply}.
 */
final class EpochTransitions {
  static ClusterState closeEpoch(ClusterState s, CloseEpoch c) {
    if (c.getEpoch() != s.openEpoch()) {
      throw conflict("epoch " + c.getEpoch() + " is not open; the open epoch is " + s.openEpoch());
    }
    if (c.getClosedAtMillis() < 0) {
      throw invalid("closed_at_millis must not be negative");
    }
    for (RoundMember m : c.getSealedByList()) {
      if (!s.stillInRound(m.getId(), m.getIncarnation())) {
        throw conflict("epoch " + c.getEpoch() + " was sealed by " + m.getId() + "#"
            + m.getIncarnation() + ", which was declared failed (or came back) before the close:"
            + " its seal may leave out what it numbered");
      }
    }
    TreeMap<Portion, Watermark> watermarks = new TreeMap<>();
    TreeSet<String> secondaries = new TreeSet<>();
    // a volume without a secondary has nowhere to transfer to: its portions count as staged
    TreeSet<Portion> staged = new TreeSet<>();
    for (Watermark w : c.getWatermarksList()) {
      Portion p = ClusterTransitions.requirePortion(s, w.getVolume(), w.getRegion());
      if (w.getCount() < 0 || w.getBytes() < 0 || w.getLastN() < 0) {
        throw invalid("watermark of " + p + " has a negative count, size or sequence number");
      }
      if (watermarks.put(p, w) != null) {
        throw invalid("portion " + p + " has two watermarks");
      }
      if (!s.volumes().get(p.volume()).shipped()) { // no secondary, or detached from it
        staged.add(p);
      }
    }
    // every secondary applies every epoch, written to or not, so each one's images move from
    // one epoch to the next in order and its consistent point is known
    for (Volume v : s.volumes().values()) {
      if (v.shipped()) {
        secondaries.add(v.secondary());
      }
    }
    ClusterState next = s;
    if (c.hasNextAssignment()) {
      next = ClusterTransitions.reassign(s, c.getNextAssignment());
    }
    EpochRecord closed = new EpochRecord(c.getEpoch(), EpochState.CLOSED,
        ImmutableSortedMap.copyOfSorted(watermarks), ImmutableSortedSet.copyOfSorted(staged),
        ImmutableSortedSet.copyOfSorted(secondaries), ImmutableSortedSet.of(),
        c.getClosedAtMillis());
    if (closed.fullyStaged()) {
      closed = closed.withState(EpochState.STAGED);
    }
    return next.withEpochs(s.openEpoch() + 1, ClusterTransitions.put(next.epochs(), c.getEpoch(), closed),
        next.consistentEpoch(), next.consistentEpochClosedAtMillis());
  }

  static ClusterState epochStaged(ClusterState s, EpochStaged st) {
    EpochRecord e = ClusterTransitions.requireEpoch(s, st.getEpoch());
    if (e.state() != EpochState.CLOSED && e.state() != EpochState.STAGED) {
      throw conflict("epoch " + e.number() + " is " + e.state() + "; staging is over");
    }
    TreeSet<Portion> staged = new TreeSet<>(e.staged());
    for (PortionRef ref : st.getPortionsList()) {
      Portion p = ClusterTransitions.requirePortion(s, ref.getVolume(), ref.getRegion());
      if (!e.watermarks().containsKey(p)) {
        throw invalid("portion " + p + " has no updates in epoch " + e.number());
      }
      staged.add(p);
    }
    EpochRecord next = e.withStaged(ImmutableSortedSet.copyOfSorted(staged));
    if (next.fullyStaged()) {
      next = next.withState(EpochState.STAGED);
    }
    return s.withEpochs(s.openEpoch(), ClusterTransitions.put(s.epochs(), e.number(), next), s.consistentEpoch(),
        s.consistentEpochClosedAtMillis());
  }

  /**
   * A portion's watermark in a closed epoch, replaced by a subset of it: what the survivors of
   * its failed owner hold (see AmendWatermark in control.proto).
   */
  static ClusterState amendWatermark(ClusterState s, AmendWatermark a) {
    EpochRecord e = ClusterTransitions.requireEpoch(s, a.getEpoch());
    Watermark w = a.getWatermark();
    Portion p = ClusterTransitions.requirePortion(s, w.getVolume(), w.getRegion());
    Watermark old = e.watermarks().get(p);
    if (old == null) {
      throw invalid("portion " + p + " has no updates in epoch " + e.number());
    }
    if (e.state() != EpochState.CLOSED || e.staged().contains(p)) {
      throw conflict("portion " + p + " of epoch " + e.number() + " is staged already");
    }
    if (w.getCount() < 0 || w.getBytes() < 0 || w.getCount() > old.getCount()
        || w.getLastN() > old.getLastN() || w.getBytes() > old.getBytes()) {
      throw invalid("the watermark of " + p + " in epoch " + e.number() + " can only shrink: "
          + "count " + w.getCount() + " of " + old.getCount() + ", last n " + w.getLastN() + " of "
          + old.getLastN() + ", " + w.getBytes() + " of " + old.getBytes() + " bytes");
    }
    TreeMap<Portion, Watermark> marks = new TreeMap<>(e.watermarks());
    marks.put(p, w);
    EpochRecord next = new EpochRecord(e.number(), e.state(),
        ImmutableSortedMap.copyOfSorted(marks), e.staged(), e.secondaries(), e.appliedBy(),
        e.closedAtMillis());
    return s.withEpochs(s.openEpoch(), ClusterTransitions.put(s.epochs(), e.number(), next), s.consistentEpoch(),
        s.consistentEpochClosedAtMillis());
  }

  static ClusterState commitEpoch(ClusterState s, CommitEpoch c) {
    EpochRecord e = ClusterTransitions.requireEpoch(s, c.getEpoch());
    if (e.state() == EpochState.COMMITTED) {
      throw conflict("epoch " + e.number() + " is already COMMITTED");
    }
    if (!e.fullyStaged()) {
      throw conflict("epoch " + e.number() + ": " + e.staged().size() + " of "
          + e.watermarks().size() + " portions staged");
    }
    for (EpochRecord earlier : s.epochs().headMap(e.number()).values()) {
      if (earlier.state() != EpochState.COMMITTED) {
        throw conflict("epoch " + earlier.number() + " is not committed yet; epochs commit in order");
      }
    }
    return advanceConsistentPoint(s, ClusterTransitions.put(s.epochs(), e.number(), e.withState(EpochState.COMMITTED)));
  }

  static ClusterState epochApplied(ClusterState s, EpochApplied a) {
    EpochRecord e = ClusterTransitions.requireEpoch(s, a.getEpoch());
    if (e.state() != EpochState.COMMITTED) {
      throw conflict("epoch " + e.number() + " is " + e.state() + ", not COMMITTED");
    }
    if (!e.secondaries().contains(a.getSecondary())) {
      throw invalid("secondary " + a.getSecondary() + " has nothing to apply in epoch " + e.number());
    }
    TreeSet<String> by = new TreeSet<>(e.appliedBy());
    by.add(a.getSecondary());
    return advanceConsistentPoint(
        s, ClusterTransitions.put(s.epochs(), e.number(), e.withAppliedBy(ImmutableSortedSet.copyOfSorted(by))));
  }

  /** Drops the leading epochs that are committed and applied everywhere, in order. */
  static ClusterState advanceConsistentPoint(
      ClusterState s, ImmutableSortedMap<Long, EpochRecord> epochs) {
    TreeMap<Long, EpochRecord> left = new TreeMap<>(epochs);
    long consistent = s.consistentEpoch();
    long closedAt = s.consistentEpochClosedAtMillis();
    while (!left.isEmpty()) {
      EpochRecord first = left.firstEntry().getValue();
      if (first.state() != EpochState.COMMITTED || !first.fullyApplied()) {
        break;
      }
      left.pollFirstEntry();
      consistent = first.number();
      closedAt = first.closedAtMillis();
    }
    return s.withEpochs(s.openEpoch(), ImmutableSortedMap.copyOfSorted(left), consistent, closedAt);
  }

  private EpochTransitions() {}
}
