package dev.ferry.node.data;

import com.google.common.net.HostAndPort;
import com.google.protobuf.ByteString;
import dev.ferry.control.ClusterState;
import dev.ferry.control.Member;
import dev.ferry.control.Portion;
import dev.ferry.control.Volume;
import dev.ferry.node.journal.Journal;
import dev.ferry.proto.control.Watermark;
import dev.ferry.proto.peer.FetchCopyReply;
import dev.ferry.proto.peer.FetchCopyRequest;
import dev.ferry.proto.secondary.PortionWatermark;
import dev.ferry.proto.secondary.StageReply;
import dev.ferry.proto.secondary.StageRequest;
import dev.ferry.proto.secondary.StagedUpdate;
import io.grpc.Status;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The transfer of closed epochs to the secondary (DESIGN.md §5), the I/O half: given the
 * immutable {@link Manifest} of one portion's closed epoch, reads each update's payload back from
 * the journal, repairs a damaged copy from another member's (checked against the primary's
 * CRC32C, so wrong bytes are never staged), and sends the Stage stream. Which portions to stage,
 * and recording them as staged, stay with the data plane.
 *
 * <p>Threading: one thread, "ferry-transfer", reads and repairs; it alone uses this class's
 * peer links (FetchCopy), which are not the data plane's. The Stage stream's answer completes
 * on a gRPC thread.
 */
final class SecondaryTransfer implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(SecondaryTransfer.class);

  /** One portion's closed epoch as it is staged: its updates in n order and its watermark. */
  record Manifest(long epoch, Portion portion, Volume volume, List<NumberedUpdate> updates,
      Watermark watermark) {
    Manifest {
      updates = List.copyOf(updates);
    }
  }

  private final String self;
  private final Journal journal;
  private final Supplier<ClusterState> state;
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "ferry-transfer");
    t.setDaemon(true);
    return t;
  });
  /** FetchCopy for repairs: transfer thread only. */
  private final PeerLinks repairLinks = new PeerLinks();
  private final SecondaryLinks secondaries = new SecondaryLinks();
  private volatile Runnable onRepair = () -> { };

  SecondaryTransfer(String self, Journal journal, Supplier<ClusterState> state) {
    this.self = self;
    this.journal = journal;
    this.state = state;
  }

  /** Called (on the transfer thread) each time a damaged payload was repaired from a peer. */
  void onRepair(Runnable repaired) {
    onRepair = repaired;
  }

  /** Stages {@code m} at its volume's secondary; completes with the secondary's answer. */
  CompletableFuture<StageReply> stage(Manifest m) {
    return CompletableFuture.supplyAsync(() -> stageMessages(m), thread)
        .thenCompose(stream -> secondaries.stage(m.volume().secondary(), stream));
  }

  /** The Stage stream of one portion's epoch; payloads read back from the journal. */
  private List<StageRequest> stageMessages(Manifest m) {
    Portion p = m.portion();
    StageRequest.Builder head = StageRequest.newBuilder().setEpoch(m.epoch())
        .setVolume(p.volume()).setRegion(p.region()).setVolumeSizeBytes(m.volume().sizeBytes());
    List<StageRequest> stream = new ArrayList<>();
    for (NumberedUpdate u : m.updates()) {
      stream.add(head.clone().setUpdate(StagedUpdate.newBuilder().setN(u.n())
          .setOffset(u.offset()).setData(ByteString.copyFrom(readBack(m.epoch(), p, u)))
          .setCrc32C(u.crc32c())).build());
    }
    Watermark w = m.watermark();
    stream.add(head.clone().setWatermark(PortionWatermark.newBuilder().setLastN(w.getLastN())
        .setCount(w.getCount()).setBytes(w.getBytes()).setDigest(w.getDigest())).build());
    return stream;
  }

  /**
   * An update's payload. A copy here that cannot be read back (damaged on disk) is repaired
   * from another member's copy; with no good copy anywhere the transfer fails (retried).
   */
  private byte[] readBack(long epoch, Portion p, NumberedUpdate u) {
    try {
      return journal.read(u.where().join()).data();
    } catch (IOException e) {
      byte[] repaired = copyFromPeers(epoch, p, u);
      if (repaired == null) {
        throw new UncheckedIOException("reading back " + u.key() + " for the transfer"
            + " (no other member holds a good copy)", e);
      }
      return repaired;
    }
  }

  /** Another live member's copy of update (epoch, n) of {@code p}, if one is good; else null. */
  private byte[] copyFromPeers(long epoch, Portion p, NumberedUpdate u) {
    ClusterState s = state.get();
    FetchCopyRequest ask = FetchCopyRequest.newBuilder().setSender(self).setVolume(p.volume())
        .setRegion(p.region()).setEpoch(epoch).setN(u.n()).build();
    for (Member m : s.members().values()) {
      if (m.id().equals(self) || !m.isLive()) {
        continue;
      }
      try {
        FetchCopyReply copy = repairLinks.fetchCopy(m.id(), HostAndPort.fromString(m.address()), ask);
        byte[] data = copy.getData().toByteArray();
        if (DataPlane.crc(data) == u.crc32c()) {
          LOG.warn("the copy of {} {}/{} in this node's journal is damaged; repaired from {}'s"
              + " copy", p, epoch, u.n(), m.id());
          onRepair.run();
          return data;
        }
        LOG.warn("{}'s copy of {} {}/{} does not match its CRC32C either", m.id(), p, epoch, u.n());
      } catch (io.grpc.StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
          LOG.warn("asking {} for its copy of {} {}/{} failed: {}", m.id(), p, epoch, u.n(),
              e.getStatus());
        }
      }
    }
    return null;
  }

  @Override
  public void close() {
    thread.shutdown();
    repairLinks.close();
    secondaries.close();
  }
}
