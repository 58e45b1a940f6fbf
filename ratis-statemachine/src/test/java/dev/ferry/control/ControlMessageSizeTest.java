package dev.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.PortionPlacement;
import dev.ferry.proto.control.PortionRef;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.Watermark;
import dev.ferry.proto.peer.FreezeRequest;
import dev.ferry.proto.peer.SealReply;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The largest barrier messages the portion bounds allow, built and measured: every portion of a
 * full cluster ({@link ControlLimits#MAX_PORTIONS_PER_CLUSTER}, volumes of the per-volume
 * maximum, 64-character names, counters at their maximum, 7 copies of 64-character member
 * ids). The figures are quoted in docs/DESIGN-NOTES.md ("Bounds").
 */
class ControlMessageSizeTest {
  private static final int PORTIONS = ControlLimits.MAX_PORTIONS_PER_CLUSTER;
  private static final int PER_VOLUME = ControlLimits.DEFAULT_MAX_PORTIONS_PER_VOLUME;

  private static List<Watermark> watermarks;
  private static List<PortionRef> refs;
  private static List<PortionPlacement> placements;

  private static String name(char c) {
    return String.valueOf(c).repeat(63) + "x"; // the longest name ClusterTransitions.NAME allows
  }

  @BeforeAll
  static void build() {
    assertThat(ClusterTransitions.NAME.matcher(name('v')).matches()).isTrue();
    watermarks = new ArrayList<>(PORTIONS);
    refs = new ArrayList<>(PORTIONS);
    placements = new ArrayList<>(PORTIONS);
    ByteString digest = ByteString.copyFrom(new byte[32]);
    for (int i = 0; i < PORTIONS; i++) {
      String volume = (i / PER_VOLUME) + name('v').substring(1);
      int region = i % PER_VOLUME;
      watermarks.add(Watermark.newBuilder().setVolume(volume).setRegion(region)
          .setLastN(Long.MAX_VALUE).setCount(Long.MAX_VALUE).setBytes(Long.MAX_VALUE)
          .setDigest(digest).build());
      refs.add(PortionRef.newBuilder().setVolume(volume).setRegion(region).build());
      PortionPlacement.Builder p = PortionPlacement.newBuilder().setVolume(volume)
          .setRegion(region).setOwner(name('o')).setMirror(name('m'));
      for (int k = 0; k < ClusterTransitions.MAX_COPIES - 2; k++) {
        p.addMoreMirrors(name((char) ('a' + k)));
      }
      placements.add(p.build());
    }
  }

  @Test
  void theLargestSealReplyFitsThePeerChannels() {
    int size = SealReply.newBuilder().addAllWatermarks(watermarks).build().getSerializedSize();
    assertThat(size).as("worst-case SealReply, bytes").isLessThan(ControlLimits.MAX_PEER_MESSAGE_BYTES)
        // the reason the peer limit had to be raised: gRPC's default is 4 MiB
        .isGreaterThan(4 << 20)
        .isBetween(35_000_000, 36_500_000);
  }

  @Test
  void theLargestFreezeRequestFitsThePeerServer() {
    int size = FreezeRequest.newBuilder().setEpoch(Long.MAX_VALUE).addAllMoving(refs).build()
        .getSerializedSize();
    System.out.printf("worst-case FreezeRequest: %d bytes%n", size);
    assertThat(size).as("worst-case FreezeRequest, bytes")
        .isLessThan(ControlLimits.MAX_PEER_MESSAGE_BYTES).isBetween(18_000_000, 20_000_000);
  }

  @Test
  void theLargestCloseEpochIsWhatTheNotesSay() {
    // watermarks only (an epoch without planned moves) and with every portion re-placed
    int watermarksOnly = CloseEpoch.newBuilder().setEpoch(Long.MAX_VALUE)
        .setClosedAtMillis(Long.MAX_VALUE).addAllWatermarks(watermarks).build()
        .getSerializedSize();
    int withMoves = CloseEpoch.newBuilder().setEpoch(Long.MAX_VALUE)
        .setClosedAtMillis(Long.MAX_VALUE).addAllWatermarks(watermarks)
        .setNextAssignment(ReassignPortions.newBuilder().setBaseVersion(Long.MAX_VALUE)
            .addAllChanges(placements))
        .build().getSerializedSize();
    System.out.printf("worst-case CloseEpoch: %d bytes (watermarks only), %d (all re-placed)%n",
        watermarksOnly, withMoves);
    assertThat(watermarksOnly).isBetween(35_000_000, 36_500_000)
        .isLessThan(ControlLimits.MAX_RAFT_ENTRY_BYTES - (1 << 20)); // room for Ratis's framing
    // the case left open (DESIGN-NOTES, Bounds): the coordinator must cap moves per epoch
    assertThat(withMoves).isGreaterThan(ControlLimits.MAX_RAFT_ENTRY_BYTES);
    assertThat(withMoves).isBetween(175_000_000, 180_000_000);
    // per portion, the figures the notes' arithmetic uses
    assertThat(watermarks.get(PORTIONS - 1).getSerializedSize()).isLessThanOrEqualTo(137);
    assertThat(placements.get(PORTIONS - 1).getSerializedSize()).isLessThanOrEqualTo(540);
  }
}
