package dev.ferry.node.coordinator;

import com.google.common.net.HostAndPort;
import com.google.protobuf.ByteString;
import dev.ferry.control.ClusterState;
import dev.ferry.control.Member;
import dev.ferry.control.Portion;
import dev.ferry.control.Volume;
import dev.ferry.node.raft.CommandRejectedException;
import dev.ferry.node.raft.RaftNode;
import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CommitEpoch;
import dev.ferry.proto.control.EpochApplied;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.secondary.CommitRequest;
import dev.ferry.proto.secondary.PortionId;
import dev.ferry.proto.secondary.SecondaryGrpc;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.RejectCode;
import dev.ferry.proto.control.Watermark;
import dev.ferry.proto.peer.FreezeReply;
import dev.ferry.proto.peer.FreezeRequest;
import dev.ferry.proto.peer.PeerGrpc;
import dev.ferry.proto.peer.ThawRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import dev.ferry.proto.admin.EpochSize;

/**
 * The epoch barrier of DESIGN.md §5, run by the leader's coordinator once per period:
 * Freeze(N) to every member that takes writes → CloseEpoch(N, watermarks) through Raft →
 * Thaw(N). Then it commits, in order, the closed epochs whose portions are all staged. Every
 * decision is in the Raft log, so a new leader resumes from the replicated state: an epoch it
 * finds open is frozen again (Freeze is idempotent), one already closed is thawed.
 *
 * <p>Threading: runs only on the coordinator's thread, which owns the channels.
 */
final class EpochBarrier implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(EpochBarrier.class);
  private static final Duration FREEZE_DEADLINE = Duration.ofSeconds(2);
  private static final Duration RAFT_DEADLINE = Duration.ofSeconds(5);

  private final RaftNode raft;
  private final Clock clock;
  private final Map<String, ManagedChannel> channels = new HashMap<>();
  private final Map<String, String> channelAddress = new HashMap<>();
  private final EpochStats stats;
  private long failuresLogged;

  EpochBarrier(RaftNode raft, Clock clock, EpochStats stats) {
    this.raft = raft;
    this.clock = clock;
    this.stats = stats;
  }

  /** One round: close the open epoch, then commit what is staged. */
  void run() {
    ClusterState s = raft.state();
    List<Member> members = s.members().values().stream()
        .filter(m -> m.state() == MemberState.ACTIVE || m.state() == MemberState.JOINING
            || m.state() == MemberState.DRAINING)
        .toList();
    if (!members.isEmpty()) {
      closeEpoch(s, s.openEpoch(), members);
    }
    commitStagedEpochs();
    applyCommittedEpochs();
  }

  /**
   * Tells each secondary to apply the committed epochs it has not applied, in order, and records
   * each apply through Raft. A secondary that fails stops there; it is asked again next period.
   */
  private void applyCommittedEpochs() {
    ClusterState s = raft.state();
    java.util.Set<String> stopped = new java.util.HashSet<>();
    for (var e : s.epochs().values()) {
      if (e.state() != EpochState.COMMITTED) {
        return;
      }
      for (String secondary : e.secondaries()) {
        if (e.appliedBy().contains(secondary) || stopped.contains(secondary)) {
          continue;
        }
        CommitRequest.Builder commit = CommitRequest.newBuilder().setEpoch(e.number())
            .setClosedAtMillis(e.closedAtMillis());
        for (Portion p : e.watermarks().keySet()) {
          Volume v = s.volumes().get(p.volume());
          if (v != null && v.secondary().equals(secondary)) {
            commit.addExpected(PortionId.newBuilder().setVolume(p.volume()).setRegion(p.region()));
          }
        }
        try {
          SecondaryGrpc.newBlockingStub(secondaryChannel(secondary))
              .withDeadlineAfter(RAFT_DEADLINE.toMillis(), TimeUnit.MILLISECONDS).commit(commit.build());
          raft.submit(Command.newBuilder().setEpochApplied(EpochApplied.newBuilder()
              .setEpoch(e.number()).setSecondary(secondary)).build())
              .get(RAFT_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RuntimeException | ExecutionException | TimeoutException ex) {
          stopped.add(secondary);
          if (failuresLogged++ % 20 == 0) {
            LOG.warn("epoch {}: apply at secondary {} failed; retrying next period: {}", e.number(),
                secondary, String.valueOf(ex));
          }
        } catch (InterruptedException ex) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  private ManagedChannel secondaryChannel(String address) {
    return channels.computeIfAbsent("secondary:" + address, k -> {
      HostAndPort hp = HostAndPort.fromString(address);
      return NettyChannelBuilder.forAddress(hp.getHost(), hp.getPort()).usePlaintext().build();
    });
  }

  private void closeEpoch(ClusterState s, long epoch, List<Member> members) {
    long start = System.nanoTime();
    List<CompletableFuture<FreezeReply>> replies = new ArrayList<>();
    for (Member m : members) {
      replies.add(toFuture(PeerGrpc.newFutureStub(channel(m))
          .withDeadlineAfter(FREEZE_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
          .freeze(FreezeRequest.newBuilder().setEpoch(epoch).build())));
    }
    List<Watermark> marks = new ArrayList<>();
    for (int i = 0; i < members.size(); i++) {
      try {
        marks.addAll(replies.get(i).get(FREEZE_DEADLINE.toMillis() + 500, TimeUnit.MILLISECONDS)
            .getWatermarksList());
      } catch (ExecutionException | TimeoutException e) {
        // a member that cannot be frozen stops the barrier: releasing acks of the next epoch
        // while it may still number updates in this one would break dependent-write order
        if (failuresLogged++ % 20 == 0) {
          LOG.warn("epoch {}: freeze of {} failed ({}); retrying next period", epoch,
              members.get(i).id(), e.getCause() == null ? e : e.getCause());
        }
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    List<Watermark> merged = merge(raft.state(), marks);
    long closedAt = clock.millis();
    Command close = Command.newBuilder().setCloseEpoch(CloseEpoch.newBuilder().setEpoch(epoch)
        .setClosedAtMillis(closedAt).addAllWatermarks(merged)).build();
    try {
      raft.submit(close).get(RAFT_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (!(cause instanceof CommandRejectedException r && r.code() == RejectCode.CONFLICT)) {
        LOG.warn("epoch {}: CloseEpoch failed: {}", epoch, String.valueOf(cause));
        return;
      }
      // closed already (by an earlier leader): thaw it below
    } catch (TimeoutException e) {
      LOG.warn("epoch {}: CloseEpoch not committed within {}", epoch, RAFT_DEADLINE);
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    for (Member m : members) {
      PeerGrpc.newFutureStub(channel(m)).withDeadlineAfter(2, TimeUnit.SECONDS)
          .thaw(ThawRequest.newBuilder().setEpoch(epoch).build());
    }
    // the coordination pause: Freeze sent to Thaw sent (acks of the next epoch wait this long)
    stats.barrierDone((System.nanoTime() - start) / 1000, EpochSize.newBuilder().setEpoch(epoch)
        .setUpdates(merged.stream().mapToLong(Watermark::getCount).sum())
        .setBytes(merged.stream().mapToLong(Watermark::getBytes).sum())
        .setClosedAtMillis(closedAt).build());
  }

  /** Commits, in order, every closed epoch whose portions are all staged. */
  private void commitStagedEpochs() {
    for (var e : raft.state().epochs().values()) {
      if (e.state() == EpochState.COMMITTED) {
        continue;
      }
      if (e.state() != EpochState.STAGED) {
        return; // epochs commit in order
      }
      try {
        raft.submit(Command.newBuilder().setCommitEpoch(CommitEpoch.newBuilder()
            .setEpoch(e.number())).build()).get(RAFT_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException ex) {
        LOG.warn("epoch {}: CommitEpoch failed: {}", e.number(), String.valueOf(ex));
        return;
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * Keeps watermarks of existing portions only and folds two reports of one portion into one:
   * that happens only when its owner changed within the epoch (until ownership moves only at
   * epoch ends): counts and bytes add up, the digest covers both digests.
   */
  static List<Watermark> merge(ClusterState s, List<Watermark> marks) {
    TreeMap<Portion, Watermark> out = new TreeMap<>();
    for (Watermark w : marks) {
      Volume v = s.volumes().get(w.getVolume());
      if (v == null || w.getRegion() < 0 || w.getRegion() >= v.regionCount()) {
        continue;
      }
      out.merge(new Portion(w.getVolume(), (int) w.getRegion()), w, EpochBarrier::combine);
    }
    return new ArrayList<>(out.values());
  }

  private static Watermark combine(Watermark a, Watermark b) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(a.getDigest().toByteArray());
      sha.update(b.getDigest().toByteArray());
      return a.toBuilder().setCount(a.getCount() + b.getCount()).setBytes(a.getBytes() + b.getBytes())
          .setLastN(Math.max(a.getLastN(), b.getLastN())).setDigest(ByteString.copyFrom(sha.digest()))
          .build();
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private ManagedChannel channel(Member m) {
    if (!m.address().equals(channelAddress.get(m.id()))) {
      ManagedChannel old = channels.remove(m.id());
      if (old != null) {
        old.shutdown();
      }
      HostAndPort hp = HostAndPort.fromString(m.address());
      channels.put(m.id(), NettyChannelBuilder.forAddress(hp.getHost(), hp.getPort()).usePlaintext().build());
      channelAddress.put(m.id(), m.address());
    }
    return channels.get(m.id());
  }

  private static <T> CompletableFuture<T> toFuture(com.google.common.util.concurrent.ListenableFuture<T> f) {
    CompletableFuture<T> out = new CompletableFuture<>();
    com.google.common.util.concurrent.Futures.addCallback(f,
        new com.google.common.util.concurrent.FutureCallback<T>() {
          @Override
          public void onSuccess(T result) {
            out.complete(result);
          }

          @Override
          public void onFailure(Throwable t) {
            out.completeExceptionally(t);
          }
        }, com.google.common.util.concurrent.MoreExecutors.directExecutor());
    return out;
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
  }
}
