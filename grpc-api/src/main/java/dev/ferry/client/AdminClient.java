package dev.ferry.client;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import dev.ferry.proto.admin.AddRaftPeerReply;
import dev.ferry.proto.admin.AddRaftPeerRequest;
import dev.ferry.proto.admin.AdminGrpc;
import dev.ferry.proto.admin.CommandReply;
import dev.ferry.proto.admin.CreateVolumeRequest;
import dev.ferry.proto.admin.DeleteVolumeRequest;
import dev.ferry.proto.admin.DetachSecondaryRequest;
import dev.ferry.proto.admin.ListSecondariesReply;
import dev.ferry.proto.admin.ListSecondariesRequest;
import dev.ferry.proto.admin.EpochsReply;
import dev.ferry.proto.admin.EpochsRequest;
import dev.ferry.proto.admin.GetAssignmentReply;
import dev.ferry.proto.admin.GetAssignmentRequest;
import dev.ferry.proto.admin.GetClusterStateRequest;
import dev.ferry.proto.admin.ListVolumesReply;
import dev.ferry.proto.admin.ListVolumesRequest;
import dev.ferry.proto.admin.MemberRequest;
import dev.ferry.proto.admin.SetCopiesRequest;
import dev.ferry.proto.admin.SetCtsPeriodRequest;
import dev.ferry.proto.admin.StatusReply;
import dev.ferry.proto.admin.StatusRequest;
import dev.ferry.proto.control.ClusterStateSnapshot;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Admin calls against a Ferry cluster given any list of its nodes. A call goes to the node that
 * answered last; when a node is unreachable ({@code UNAVAILABLE}) the next one is tried. Any node
 * can answer: followers forward commands to the Raft leader.
 *
 * <p>Thread-safe.
 */
public final class AdminClient implements AutoCloseable {
  private final List<HostAndPort> addresses;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final Duration deadline;
  private volatile int preferred;

  public AdminClient(List<HostAndPort> addresses, Duration deadline) {
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException("no node address given");
    }
    this.addresses = List.copyOf(addresses);
    this.deadline = deadline;
    for (HostAndPort a : addresses) {
      channels.add(NettyChannelBuilder.forAddress(a.getHost(), a.getPort()).usePlaintext().build());
    }
  }

  /** Parses {@code HOST:PORT[,HOST:PORT...]}. */
  public static List<HostAndPort> parseAddresses(String list) {
    List<HostAndPort> out = new ArrayList<>();
    for (String part : list.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      HostAndPort hp;
      try {
        hp = HostAndPort.fromString(part.trim());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("'" + part.trim() + "' is not HOST:PORT");
      }
      if (!hp.hasPort()) {
        throw new IllegalArgumentException("'" + part.trim() + "' has no port (HOST:PORT)");
      }
      out.add(hp);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no node address given (HOST:PORT[,HOST:PORT...])");
    }
    return out;
  }

  public StatusReply status() {
    return call(s -> s.status(StatusRequest.getDefaultInstance()));
  }

  public CommandReply createVolume(String name, long sizeBytes, long regionSizeBytes, String secondary) {
    return createVolume(name, sizeBytes, regionSizeBytes, secondary, false);
  }

  /**
   * Creates a volume. Unless {@code force}, the cluster first checks that the secondary answers
   * and refuses the volume ({@code FAILED_PRECONDITION}) if it does not.
   */
  public CommandReply createVolume(String name, long sizeBytes, long regionSizeBytes,
      String secondary, boolean force) {
    return call(s -> s.createVolume(CreateVolumeRequest.newBuilder().setName(name)
        .setSizeBytes(sizeBytes).setRegionSizeBytes(regionSizeBytes).setSecondary(secondary)
        .setForce(force).build()));
  }

  public ListSecondariesReply listSecondaries() {
    return call(s -> s.listSecondaries(ListSecondariesRequest.getDefaultInstance()));
  }

  public CommandReply detachSecondary(String address) {
    return call(s -> s.detachSecondary(
        DetachSecondaryRequest.newBuilder().setAddress(address).build()));
  }

  public CommandReply deleteVolume(String name) {
    return call(s -> s.deleteVolume(DeleteVolumeRequest.newBuilder().setName(name).build()));
  }

  public ListVolumesReply listVolumes() {
    return call(s -> s.listVolumes(ListVolumesRequest.getDefaultInstance()));
  }

  public GetAssignmentReply assignment() {
    return call(s -> s.getAssignment(GetAssignmentRequest.getDefaultInstance()));
  }

  public CommandReply drainMember(String id) {
    return call(s -> s.drainMember(MemberRequest.newBuilder().setId(id).build()));
  }

  public CommandReply removeMember(String id) {
    return call(s -> s.removeMember(MemberRequest.newBuilder().setId(id).build()));
  }

  public AddRaftPeerReply addRaftPeer(String id, String raftAddress) {
    return call(s -> s.addRaftPeer(
        AddRaftPeerRequest.newBuilder().setId(id).setRaftAddress(raftAddress).build()));
  }

  public EpochsReply epochs() {
    return call(s -> s.epochs(EpochsRequest.getDefaultInstance()));
  }

  /**
   * Sets the epoch period of the whole cluster: 10..60000 ms, or 0 to go back to each node's
   * {@code cts.period}. Out of range fails with {@code INVALID_ARGUMENT}.
   */
  public CommandReply setCtsPeriod(long periodMillis) {
    return call(s -> s.setCtsPeriod(
        SetCtsPeriodRequest.newBuilder().setPeriodMillis(periodMillis).build()));
  }

  /**
   * Sets how many durable copies of every update exist before its ack (2..7), through Raft. Out
   * of range fails with {@code INVALID_ARGUMENT}; a change once a volume exists with
   * {@code FAILED_PRECONDITION}.
   */
  public CommandReply setCopies(int copies) {
    return call(s -> s.setCopies(SetCopiesRequest.newBuilder().setCopies(copies).build()));
  }

  /** Epoch figures from one particular node (the leader has the pause figures). */
  public EpochsReply epochsOf(int nodeIndex) {
    return stub(nodeIndex).epochs(EpochsRequest.getDefaultInstance());
  }

  /** The index, in the address list, of the node whose admin address is {@code address}. */
  public int indexOf(String address) {
    for (int i = 0; i < addresses.size(); i++) {
      if (addresses.get(i).toString().equals(address)) {
        return i;
      }
    }
    return -1;
  }

  public ClusterStateSnapshot clusterState() {
    return call(s -> s.getClusterState(GetClusterStateRequest.getDefaultInstance()));
  }

  /** After the first answer, how long {@link #newestClusterState} waits for the other nodes. */
  static final Duration STRAGGLER_GRACE = Duration.ofMillis(200);

  /**
   * The cluster state of the node that has applied the most (the highest assignment version)
   * among those that answer: every node is asked at once; after the first answer the others
   * get {@link #STRAGGLER_GRACE} more. Asking the first node that answers let a node that lags
   * (replaying its log, or whose Raft log is stuck) hold a primary to an assignment the others
   * had moved past, refused as stale by every owner for as long as that node answered first
   * (soak, 2026-12-07: 30 s without an ack).
   */
  public ClusterStateSnapshot newestClusterState() {
    List<ListenableFuture<ClusterStateSnapshot>> asks = new ArrayList<>();
    CompletableFuture<Void> firstAnswer = new CompletableFuture<>();
    CompletableFuture<Void> allDone = new CompletableFuture<>();
    AtomicInteger pending = new AtomicInteger(channels.size());
    for (int i = 0; i < channels.size(); i++) {
      ListenableFuture<ClusterStateSnapshot> ask = AdminGrpc
          .newFutureStub(Reconnect.now(channels.get(i)))
          .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
          .getClusterState(GetClusterStateRequest.getDefaultInstance());
      ask.addListener(() -> {
        if (answered(ask) != null) {
          firstAnswer.complete(null);
        }
        if (pending.decrementAndGet() == 0) {
          allDone.complete(null);
        }
      }, MoreExecutors.directExecutor());
      asks.add(ask);
    }
    try {
      CompletableFuture.anyOf(firstAnswer, allDone).get(deadline.toMillis(), TimeUnit.MILLISECONDS);
      allDone.get(STRAGGLER_GRACE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // take what has answered by now
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      throw new IllegalStateException(e); // the two futures above never fail
    }
    ClusterStateSnapshot newest = null;
    String lastFailure = "no answer within " + deadline.toMillis() + " ms";
    for (ListenableFuture<ClusterStateSnapshot> ask : asks) {
      ClusterStateSnapshot s = answered(ask);
      if (s != null && (newest == null || s.getAssignmentVersion() > newest.getAssignmentVersion())) {
        newest = s;
      } else if (s == null && ask.isDone()) {
        lastFailure = Status.fromThrowable(failureOf(ask)).toString();
      }
      ask.cancel(true);
    }
    if (newest == null) {
      throw new StatusRuntimeException(Status.UNAVAILABLE.withDescription(
          "no node answered at " + addresses + ": " + lastFailure));
    }
    return newest;
  }

  /** The reply of a finished call, or null if it failed or has not finished. */
  private static <T> T answered(ListenableFuture<T> call) {
    if (!call.isDone() || call.isCancelled()) {
      return null;
    }
    try {
      return Futures.getDone(call);
    } catch (ExecutionException e) {
      return null;
    }
  }

  private static Throwable failureOf(ListenableFuture<?> call) {
    try {
      Futures.getDone(call);
      return new IllegalStateException("no failure");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (java.util.concurrent.CancellationException e) {
      return e;
    }
  }

  /** The state as applied on one particular node (no failover to others). */
  public ClusterStateSnapshot clusterStateOf(int nodeIndex) {
    return stub(nodeIndex).getClusterState(GetClusterStateRequest.getDefaultInstance());
  }

  private AdminGrpc.AdminBlockingStub stub(int i) {
    return AdminGrpc.newBlockingStub(Reconnect.now(channels.get(i)))
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  private <T> T call(Function<AdminGrpc.AdminBlockingStub, T> rpc) {
    StatusRuntimeException last = null;
    int start = preferred;
    for (int k = 0; k < channels.size(); k++) {
      int i = (start + k) % channels.size();
      try {
        T reply = rpc.apply(stub(i));
        preferred = i;
        return reply;
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
          throw e;
        }
        last = e;
      }
    }
    throw new StatusRuntimeException(Status.UNAVAILABLE.withDescription(
        "no node answered at " + addresses + ": " + last.getStatus().getDescription()));
  }

  @Override
  public void close() {
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
    for (ManagedChannel c : channels) {
      try {
        c.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
