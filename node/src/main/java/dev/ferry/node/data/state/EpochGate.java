package dev.ferry.node.data.state;

import dev.ferry.control.Portion;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;

/**
 * One node's half of the epoch barrier (DESIGN.md §5), as a value: the cut that Freeze(N) makes
 * (new updates are numbered in N+1), the release that Thaw(N) makes (acks of N+1 may go), and
 * the portions whose owner changes when the frozen epoch closes (their writes wait for that
 * close). Each input gives a new gate; the data thread holds the current one.
 *
 * @param frozenThrough the highest epoch this node was told to freeze (0: none yet)
 * @param thawedThrough the highest epoch this node was told to thaw (0: none yet)
 * @param inBarrier whether this process has joined a barrier since it started: until then its
 *     applied state may lag (just restarted), so it numbers nothing
 * @param moving the portions whose owner changes with the close of {@code moving.epoch()}, or
 *     null when none does
 */
public record EpochGate(long frozenThrough, long thawedThrough, boolean inBarrier, Moving moving) {

  /** A process that has just started: frozen through nothing, in no barrier yet. */
  public static final EpochGate AT_START = new EpochGate(0, 0, false, null);

  /** Portions whose owner changes with CloseEpoch(epoch). */
  public record Moving(long epoch, Set<Portion> portions) {
    public Moving {
      portions = Set.copyOf(portions);
    }
  }

  /**
   * The epoch a new update is numbered in, given the open epoch of the applied state: after
   * Freeze(N), N+1 at least, so that no update numbered after this node answered the Freeze
   * lands in N.
   */
  public long numberingEpoch(long openEpoch) {
    return Math.max(frozenThrough + 1, openEpoch);
  }

  /**
   * The highest epoch whose acks may go out: the open epoch (its predecessor is closed in Raft,
   * so every member has frozen it), or the epoch after the last one thawed.
   */
  public long releasableEpoch(long openEpoch) {
    return Math.max(thawedThrough + 1, openEpoch);
  }

  /**
   * Freeze(epoch), naming the portions whose owner changes when it closes. Idempotent; an older
   * Freeze changes nothing already cut. Moving portions of the same epoch add up; those of a
   * later epoch replace the earlier ones.
   */
  public EpochGate frozen(long epoch, Collection<Portion> movingPortions) {
    Moving m = moving;
    if (!movingPortions.isEmpty()) {
      if (m == null || m.epoch() < epoch) {
        m = new Moving(epoch, Set.copyOf(movingPortions));
      } else if (m.epoch() == epoch) {
        Set<Portion> all = new HashSet<>(m.portions());
        all.addAll(movingPortions);
        m = new Moving(epoch, all);
      } // else: a late Freeze of an earlier epoch; the later move stands
    }
    return new EpochGate(Math.max(frozenThrough, epoch), thawedThrough, inBarrier, m);
  }

  /** Thaw(epoch): acks of epochs up to epoch + 1 may go. Idempotent. */
  public EpochGate thawed(long epoch) {
    return new EpochGate(frozenThrough, Math.max(thawedThrough, epoch), inBarrier, moving);
  }

  /** This process took part in its first barrier: it may number updates from now on. */
  public EpochGate joined() {
    return new EpochGate(frozenThrough, thawedThrough, true, moving);
  }

  /**
   * This process was declared FAILED while running: what it numbered was handed over, and it
   * numbers nothing until it joins a barrier again (as a new incarnation).
   */
  public EpochGate left() {
    return new EpochGate(frozenThrough, thawedThrough, false, moving);
  }

  /** A state with {@code openEpoch} was applied: a move whose epoch is closed there is done. */
  public EpochGate stateApplied(long openEpoch) {
    if (moving != null && openEpoch > moving.epoch()) {
      return new EpochGate(frozenThrough, thawedThrough, inBarrier, null);
    }
    return this;
  }

  /**
   * Whether a write of {@code p} numbered now, in {@code epoch} ({@link #numberingEpoch}), must
   * wait for the close of the epoch that moves p's owner: neither the old owner, in the epoch
   * after the frozen one, nor anyone else may number it until that close is applied here.
   */
  public boolean mustWaitForClose(Portion p, long epoch, long openEpoch) {
    Moving m = moving;
    return m != null && epoch > m.epoch() && openEpoch <= m.epoch() && m.portions().contains(p);
  }

  /**
   * Whether a Seal of {@code epoch} may report: this process has joined a barrier and was frozen
   * through that epoch (after a restart, the coordinator freezes again first).
   */
  public boolean sealable(long epoch) {
    return inBarrier && frozenThrough >= epoch;
  }
}
