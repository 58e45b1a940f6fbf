package dev.ferry.control;

import dev.ferry.proto.control.MemberState;
import java.util.Objects;

/**
 * A Ferry member as the replicated state knows it. Immutable.
 *
 * @param address where the member serves Admin and Peer traffic
 * @param ingestAddress where primaries write to it (the same as {@code address} unless the
 *     member listens for primaries on a separate port)
 */
public record Member(String id, String address, MemberState state, long incarnation,
    String ingestAddress) {
  public Member {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(state, "state");
    if (ingestAddress == null || ingestAddress.isEmpty()) {
      ingestAddress = address;
    }
  }

  /** A member whose primaries write to its main address. */
  public Member(String id, String address, MemberState state, long incarnation) {
    this(id, address, state, incarnation, address);
  }

  public Member withState(MemberState newState) {
    return new Member(id, address, newState, incarnation, ingestAddress);
  }

  public boolean isActive() {
    return state == MemberState.ACTIVE;
  }
}
