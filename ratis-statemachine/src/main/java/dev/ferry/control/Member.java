package dev.ferry.control;

import dev.ferry.proto.control.MemberState;
import java.util.Objects;

/**
 * A Ferry member as the replicated state knows it. Immutable.
 *
 * @param address where the member serves Admin and Peer traffic
 * @param ingestAddress where primaries write to it (the same as {@code address} unless the
 *     member listens for primaries on a separate port)
 * @param failedAtEpoch for a FAILED member, the epoch that was open when it was declared failed
 *     (0 otherwise)
 */
public record Member(String id, String address, MemberState state, long incarnation,
    String ingestAddress, long failedAtEpoch) {
  public Member {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(state, "state");
    if (ingestAddress == null || ingestAddress.isEmpty()) {
      ingestAddress = address;
    }
  }

  /** A member that has not failed. */
  public Member(String id, String address, MemberState state, long incarnation,
      String ingestAddress) {
    this(id, address, state, incarnation, ingestAddress, 0);
  }

  /** A member whose primaries write to its main address. */
  public Member(String id, String address, MemberState state, long incarnation) {
    this(id, address, state, incarnation, address);
  }

  public Member withState(MemberState newState) {
    return new Member(id, address, newState, incarnation, ingestAddress,
        newState == MemberState.FAILED ? failedAtEpoch : 0);
  }

  /** This member declared FAILED while {@code openEpoch} was open. */
  public Member failedIn(long openEpoch) {
    return new Member(id, address, MemberState.FAILED, incarnation, ingestAddress, openEpoch);
  }

  /**
   * A FAILED member whose failure may still matter: the epoch after the one open when it was
   * declared failed is not applied yet. Until then some acknowledged update may exist only as
   * the copies the survivors are handing over and copying again. Updates of that epoch and
   * earlier are safe once applied at the secondaries; updates of later epochs are sealed only by
   * nodes that have handled the failure (the coordinator names unsettled failures in Seal), so
   * their copies were re-made before their epoch closed (DESIGN-NOTES, "Safety").
   */
  public boolean failureUnsettled(long consistentEpoch) {
    return state == MemberState.FAILED && failedAtEpoch >= consistentEpoch;
  }

  /**
   * A member that takes part in the data path: ACTIVE, JOINING or DRAINING (it holds or gets
   * copies, answers peers, is watched for failure); not FAILED or REMOVED.
   */
  public boolean isLive() {
    return state == MemberState.ACTIVE || state == MemberState.JOINING
        || state == MemberState.DRAINING;
  }

  public boolean isActive() {
    return state == MemberState.ACTIVE;
  }
}
