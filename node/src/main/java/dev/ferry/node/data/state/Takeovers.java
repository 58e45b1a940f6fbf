package dev.ferry.node.data.state;

import dev.ferry.control.Portion;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What this node knows of failed members' portions it took over (DESIGN.md §6, claim 13):
 * which of them still wait for a live member's handoff, which handoffs have arrived, since which
 * epoch each portion is taken over (its closed epochs may need their watermark amended), and
 * which failed incarnations this node has handed its own copies over for. A failed member is
 * named by its incarnation tag, "id#incarnation": a member can fail, rejoin and fail again. Not
 * thread-safe: the data thread owns it.
 */
public final class Takeovers {
  /** A handoff a new owner waits for: {@code sender}'s copies of {@code failed}'s updates. */
  private record Awaited(String failed, String sender) {}

  /** Portions taken over, and the handoffs they still wait for: their writes wait meanwhile. */
  private final Map<Portion, Set<Awaited>> adopting = new HashMap<>();
  /** Per failed incarnation, who has sent its last handoff here (it may come before we expect it). */
  private final Map<String, Set<String>> handoffsDone = new HashMap<>();
  /** Per portion taken over, the open epoch when it was: closed epochs up to it may be amended. */
  private final Map<Portion, Long> takenOverAt = new HashMap<>();
  /** Failed incarnations whose updates this node has handed over since it started. */
  private final Set<String> handedOver = new HashSet<>();

  /**
   * Portion {@code p}, owned by {@code failed} until now, is this node's from {@code openEpoch}:
   * its writes wait for each of {@code senders}' handoffs not already here.
   */
  public void await(Portion p, String failed, Collection<String> senders, long openEpoch) {
    Set<String> done = handoffsDone.getOrDefault(failed, Set.of());
    for (String sender : senders) {
      if (!done.contains(sender)) {
        adopting.computeIfAbsent(p, k -> new HashSet<>()).add(new Awaited(failed, sender));
      }
    }
    takenOverAt.merge(p, openEpoch, Math::max);
  }

  /** {@code sender}'s last handoff of {@code failed}'s updates arrived. True if none is awaited now. */
  public boolean handoffDone(String failed, String sender) {
    handoffsDone.computeIfAbsent(failed, f -> new HashSet<>()).add(sender);
    Awaited arrived = new Awaited(failed, sender);
    adopting.values().forEach(a -> a.remove(arrived));
    adopting.values().removeIf(Set::isEmpty);
    return adopting.isEmpty();
  }

  /** A sender that is no longer live will not finish its handoff: stop waiting for it. */
  public void senderGone(Predicate<String> live) {
    adopting.values().forEach(a -> a.removeIf(w -> !live.test(w.sender())));
    adopting.values().removeIf(Set::isEmpty);
  }

  /** Whether {@code p}'s writes wait for a handoff. */
  public boolean adopting(Portion p) {
    return adopting.containsKey(p);
  }

  /** How many portions wait for a handoff (Seal is refused while any does). */
  public int adoptingCount() {
    return adopting.size();
  }

  /** Whether this node still waits for {@code sender}'s handoff of {@code failed}'s updates. */
  public boolean awaits(String failed, String sender) {
    Awaited a = new Awaited(failed, sender);
    return adopting.values().stream().anyMatch(w -> w.contains(a));
  }

  /** Who has sent its last handoff of {@code failed}'s updates here. */
  public Set<String> handoffsDone(String failed) {
    return Set.copyOf(handoffsDone.getOrDefault(failed, Set.of()));
  }

  /** The open epoch when {@code p} was last taken over here, or null if it never was (or is released). */
  public Long takenOverAt(Portion p) {
    return takenOverAt.get(p);
  }

  /**
   * Notes that this node hands its copies of {@code failed}'s updates over now. False if it had
   * already (a failure is handed over once per incarnation and process).
   */
  public boolean handingOver(String failed) {
    return handedOver.add(failed);
  }

  /** Whether this node has handed over for {@code failed} since it started. */
  public boolean handedOver(String failed) {
    return handedOver.contains(failed);
  }

  /** Whether this node has handed over for every one of {@code failed}. */
  public boolean handedOverAll(Collection<String> failed) {
    return handedOver.containsAll(failed);
  }

  /** Epochs up to {@code epoch} are applied at the secondary: nothing of them to amend. */
  public void releaseThrough(long epoch) {
    takenOverAt.values().removeIf(e -> e <= epoch);
  }

  /**
   * This node was declared FAILED: the portions it took over went to others. What it handed
   * over, and the handoffs it received, stay known.
   */
  public void dropTakenOver() {
    adopting.clear();
    takenOverAt.clear();
  }
}
