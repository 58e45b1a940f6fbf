package dev.ferry.control;

import dev.ferry.proto.control.MemberState;
import java.util.Objects;

/** A Ferry member as the replicated state knows it. Immutable. */
public record Member(String id, String address, MemberState state, long incarnation) {
  public Member {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(state, "state");
  }

  public Member withState(MemberState newState) {
    return new Member(id, address, newState, incarnation);
  }

  public boolean isActive() {
    return state == MemberState.ACTIVE;
  }
}
