package dev.ferry.node.admin;

import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterStateCodec;
import dev.ferry.node.coordinator.Coordinator;
import dev.ferry.node.coordinator.EpochStats;
import dev.ferry.node.raft.CommandRejectedException;
import dev.ferry.proto.admin.EpochsReply;
import dev.ferry.proto.admin.EpochsRequest;
import java.time.Clock;
import dev.ferry.node.raft.RaftNode;
import dev.ferry.proto.admin.AddRaftPeerReply;
import dev.ferry.proto.admin.AddRaftPeerRequest;
import dev.ferry.proto.admin.AdminGrpc;
import dev.ferry.proto.admin.CommandReply;
import dev.ferry.proto.admin.CreateVolumeRequest;
import dev.ferry.proto.admin.DeleteVolumeRequest;
import dev.ferry.proto.admin.GetAssignmentReply;
import dev.ferry.proto.admin.GetAssignmentRequest;
import dev.ferry.proto.admin.GetClusterStateRequest;
import dev.ferry.proto.admin.ListVolumesReply;
import dev.ferry.proto.admin.ListVolumesRequest;
import dev.ferry.proto.admin.MemberRequest;
import dev.ferry.proto.admin.RaftPeerInfo;
import dev.ferry.proto.admin.SetCopiesRequest;
import dev.ferry.proto.admin.SetCtsPeriodRequest;
import dev.ferry.proto.admin.StatusReply;
import dev.ferry.proto.admin.StatusRequest;
import dev.ferry.proto.control.ClusterStateSnapshot;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CommandResult;
import dev.ferry.proto.control.CreateVolume;
import dev.ferry.proto.control.DeleteVolume;
import dev.ferry.proto.control.Drain;
import dev.ferry.proto.control.Remove;
import dev.ferry.proto.control.SetCopies;
import dev.ferry.proto.control.SetCtsPeriod;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import com.google.common.net.HostAndPort;
import dev.ferry.proto.admin.DetachSecondaryRequest;
import dev.ferry.proto.admin.ListSecondariesReply;
import dev.ferry.proto.admin.ListSecondariesRequest;
import dev.ferry.proto.admin.SecondaryInfo;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.ratis.protocol.RaftPeer;

/**
 * The Admin gRPC service. Reads come from this node's applied state; commands go through Raft
 * (the Raft client reaches the leader from any node), and the reply waits until this node has
 * applied the command too, so a read right after a write on the same node sees it.
 */
public final class AdminService extends AdminGrpc.AdminImplBase {
  private static final Logger LOG = LogManager.getLogger(AdminService.class);
  private static final long APPLY_WAIT_SECONDS = 10;

  private final String nodeId;
  private final RaftNode raft;
  private final long defaultRegionSize;
  private final dev.ferry.node.config.NodeConfig.VolumeLimits volumeLimits;
  private final Coordinator coordinator;
  private final Clock clock;
  /** A secondary's address to empty if it answers, else why not. */
  private final Function<String, Optional<String>> secondaryProbe;

  public AdminService(String nodeId, RaftNode raft, long defaultRegionSize, Coordinator coordinator,
      Clock clock) {
    this(nodeId, raft, defaultRegionSize, dev.ferry.node.config.NodeConfig.VolumeLimits.DEFAULTS,
        coordinator, clock);
  }

  /** {@code volumeLimits}: put in every CreateVolume; the state machine checks them. */
  public AdminService(String nodeId, RaftNode raft, long defaultRegionSize,
      dev.ferry.node.config.NodeConfig.VolumeLimits volumeLimits, Coordinator coordinator,
      Clock clock) {
    this(nodeId, raft, defaultRegionSize, volumeLimits, coordinator, clock,
        a -> probeSecondary(a, SECONDARY_PROBE_DEADLINE));
  }

  AdminService(String nodeId, RaftNode raft, long defaultRegionSize,
      dev.ferry.node.config.NodeConfig.VolumeLimits volumeLimits, Coordinator coordinator,
      Clock clock, Function<String, Optional<String>> secondaryProbe) {
    this.nodeId = nodeId;
    this.raft = raft;
    this.defaultRegionSize = defaultRegionSize;
    this.volumeLimits = volumeLimits;
    this.coordinator = coordinator;
    this.clock = clock;
    this.secondaryProbe = secondaryProbe;
  }

  /** How long CreateVolume waits for a secondary's health answer before refusing the volume. */
  static final Duration SECONDARY_PROBE_DEADLINE = Duration.ofSeconds(10);

  /**
   * Asks a secondary's gRPC health service once, within {@code deadline}. Any SERVING answer
   * counts; empty when it answered so, else the reason (refused, timed out, not serving).
   */
  static Optional<String> probeSecondary(String address, Duration deadline) {
    HostAndPort hp;
    try {
      hp = HostAndPort.fromString(address);
    } catch (IllegalArgumentException e) {
      return Optional.empty(); // not host:port: the state machine refuses it with its reason
    }
    if (!hp.hasPort()) {
      return Optional.empty();
    }
    ManagedChannel ch = NettyChannelBuilder.forAddress(hp.getHost(), hp.getPort()).usePlaintext()
        .build();
    try {
      HealthCheckResponse h = HealthGrpc.newBlockingStub(ch)
          .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
      return h.getStatus() == HealthCheckResponse.ServingStatus.SERVING ? Optional.empty()
          : Optional.of("health " + h.getStatus());
    } catch (StatusRuntimeException e) {
      Status st = e.getStatus();
      return Optional.of(st.getCode() == Status.Code.DEADLINE_EXCEEDED
          ? "no answer within " + deadline.toMillis() + " ms"
          : st.getCode() + (st.getDescription() == null ? "" : ": " + st.getDescription()));
    } finally {
      ch.shutdownNow();
    }
  }

  /** now - close time of the last applied epoch, by this node's clock; -1 before the first. */
  private long rpoMillis(ClusterState s) {
    return s.rpoMillis(clock.millis());
  }

  @Override
  public void epochs(EpochsRequest request, StreamObserver<EpochsReply> out) {
    if (starting(out)) {
      return;
    }
    ClusterState s = raft.state();
    EpochsReply.Builder b = EpochsReply.newBuilder().setAnsweredBy(nodeId)
        .setOpenEpoch(s.openEpoch()).setLastClosedEpoch(s.openEpoch() - 1)
        .setAppliedEpoch(s.consistentEpoch())
        .setAppliedClosedAtMillis(s.consistentEpochClosedAtMillis()).setRpoMillis(rpoMillis(s))
        .setPendingEpochs(s.epochs().size())
        .addAllConsistentPointWaitsFor(s.consistentPointWaitsFor())
        .setCtsPeriodMillis(coordinator.ctsPeriod().toMillis());
    if (coordinator.active()) {
      EpochStats.Snapshot st = coordinator.stats().snapshot();
      b.setLeader(true).setPauseLastMicros(st.lastPauseMicros()).setPauseP50Micros(st.p50Micros())
          .setPauseP99Micros(st.p99Micros()).setBarriers(st.barriers()).addAllRecent(st.recent());
    }
    reply(out, b.build());
  }

  /**
   * A node whose Raft peer is still starting, or whose state machine has not replayed its log
   * yet, answers UNAVAILABLE, so clients ask another node instead of reading a state that lacks
   * what exists (and Ratis is not asked for what it cannot tell yet).
   */
  private boolean starting(StreamObserver<?> out) {
    if (raft.started() && raft.controlStateLoaded()) {
      return false;
    }
    out.onError(Status.UNAVAILABLE.withDescription("node " + nodeId + " is starting: "
        + (raft.started() ? "control state not loaded" : "Raft peer not started")).asRuntimeException());
    return true;
  }

  @Override
  public void status(StatusRequest request, StreamObserver<StatusReply> out) {
    if (starting(out)) {
      return;
    }
    ClusterState s = raft.state();
    StatusReply.Builder b = StatusReply.newBuilder()
        .setLeader(raft.leaderId().orElse(""))
        .setAnsweredBy(nodeId)
        .setAssignmentVersion(s.assignmentVersion())
        .setOpenEpoch(s.openEpoch())
        .setConsistentEpoch(s.consistentEpoch())
        .setAppliedIndex(raft.appliedIndex())
        .setRpoMillis(rpoMillis(s))
        .setCopies(s.copies())
        .addAllConsistentPointWaitsFor(s.consistentPointWaitsFor());
    ClusterStateSnapshot proto = ClusterStateCodec.toProto(s);
    b.addAllMembers(proto.getMembersList());
    s.volumes().keySet().forEach(b::addVolumes);
    b.addAllRaftPeers(peerInfos(raft.raftPeers()));
    reply(out, b.build());
  }

  @Override
  public void listVolumes(ListVolumesRequest request, StreamObserver<ListVolumesReply> out) {
    if (starting(out)) {
      return;
    }
    reply(out, ListVolumesReply.newBuilder()
        .addAllVolumes(ClusterStateCodec.toProto(raft.state()).getVolumesList()).build());
  }

  @Override
  public void getAssignment(GetAssignmentRequest request, StreamObserver<GetAssignmentReply> out) {
    if (starting(out)) {
      return;
    }
    ClusterState s = raft.state();
    reply(out, GetAssignmentReply.newBuilder().setAssignmentVersion(s.assignmentVersion())
        .addAllPlacements(ClusterStateCodec.placements(s)).build());
  }

  @Override
  public void getClusterState(GetClusterStateRequest request, StreamObserver<ClusterStateSnapshot> out) {
    if (starting(out)) {
      return;
    }
    reply(out, ClusterStateCodec.toProto(raft.state()));
  }

  @Override
  public void createVolume(CreateVolumeRequest r, StreamObserver<CommandReply> out) {
    long regionSize = r.getRegionSizeBytes() == 0 ? defaultRegionSize : r.getRegionSizeBytes();
    if (!r.getForce() && !r.getSecondary().isEmpty()) {
      // a secondary that is not there would hold every volume's consistent point back
      Optional<String> silent = secondaryProbe.apply(r.getSecondary());
      if (silent.isPresent()) {
        out.onError(Status.FAILED_PRECONDITION.withDescription("secondary " + r.getSecondary()
            + " does not answer (" + silent.get() + "); volume " + r.getName()
            + " not created (check the address, or create it with --force)")
            .asRuntimeException());
        return;
      }
    }
    submit(Command.newBuilder().setCreateVolume(CreateVolume.newBuilder().setName(r.getName())
        .setSizeBytes(r.getSizeBytes()).setRegionSizeBytes(regionSize)
        .setSecondary(r.getSecondary())
        .setMinRegionSizeBytes(volumeLimits.minRegionSize())
        .setMaxPortionsPerVolume(volumeLimits.maxPortionsPerVolume())
        .setMaxPortionsPerCluster(volumeLimits.maxPortionsPerCluster())).build(), out);
  }

  @Override
  public void listSecondaries(ListSecondariesRequest request,
      StreamObserver<ListSecondariesReply> out) {
    if (starting(out)) {
      return;
    }
    ClusterState s = raft.state();
    Set<String> waitedFor = s.consistentPointWaitsFor();
    ListSecondariesReply.Builder b = ListSecondariesReply.newBuilder();
    s.secondaryVolumes().forEach((address, volumes) -> b.addSecondaries(SecondaryInfo.newBuilder()
        .setAddress(address).addAllVolumes(volumes).setAppliedEpoch(s.lastAppliedBy(address))
        .setHoldsBack(waitedFor.contains(address))
        .setDetached(volumes.stream().anyMatch(v -> s.volumes().get(v).detached()))));
    reply(out, b.build());
  }

  @Override
  public void detachSecondary(DetachSecondaryRequest r, StreamObserver<CommandReply> out) {
    submit(Command.newBuilder().setDetachSecondary(
        dev.ferry.proto.control.DetachSecondary.newBuilder().setSecondary(r.getAddress())).build(),
        out);
  }

  @Override
  public void deleteVolume(DeleteVolumeRequest r, StreamObserver<CommandReply> out) {
    submit(Command.newBuilder().setDeleteVolume(DeleteVolume.newBuilder().setName(r.getName()))
        .build(), out);
  }

  @Override
  public void drainMember(MemberRequest r, StreamObserver<CommandReply> out) {
    submit(Command.newBuilder().setDrain(Drain.newBuilder().setId(r.getId())).build(), out);
  }

  @Override
  public void removeMember(MemberRequest r, StreamObserver<CommandReply> out) {
    var member = raft.state().members().get(r.getId());
    // REMOVED in the state first, then out of the Raft configuration (a voter no more); a
    // repeated remove finishes the second step if it failed before
    Command remove = Command.newBuilder().setRemove(Remove.newBuilder().setId(r.getId())).build();
    CompletableFuture<CommandResult> removed = member != null
        && member.state() == dev.ferry.proto.control.MemberState.REMOVED
        ? CompletableFuture.completedFuture(CommandResult.newBuilder()
            .setAssignmentVersion(raft.state().assignmentVersion()).build())
        : applied(remove);
    respond(removed.thenApplyAsync(result -> {
      try {
        raft.removePeer(r.getId());
        return result;
      } catch (IOException e) {
        throw new CompletionException(Status.UNAVAILABLE.withDescription("member " + r.getId()
            + " is REMOVED, but removing it from the Raft configuration failed: "
            + e.getMessage() + "; run member remove again").asRuntimeException());
      }
    }), out);
  }

  @Override
  public void setCtsPeriod(SetCtsPeriodRequest r, StreamObserver<CommandReply> out) {
    submit(Command.newBuilder().setSetCtsPeriod(SetCtsPeriod.newBuilder()
        .setPeriodMillis(r.getPeriodMillis())).build(), out);
  }

  @Override
  public void setCopies(SetCopiesRequest r, StreamObserver<CommandReply> out) {
    submit(Command.newBuilder().setSetCopies(SetCopies.newBuilder().setCopies(r.getCopies()))
        .build(), out);
  }

  @Override
  public void addRaftPeer(AddRaftPeerRequest r, StreamObserver<AddRaftPeerReply> out) {
    try {
      List<RaftPeer> peers = raft.addPeer(RaftNode.peer(r.getId(),
          com.google.common.net.HostAndPort.fromString(r.getRaftAddress())));
      reply(out, AddRaftPeerReply.newBuilder().addAllRaftPeers(peerInfos(peers)).build());
    } catch (IOException | IllegalArgumentException e) {
      LOG.warn("adding Raft peer {} at {} failed", r.getId(), r.getRaftAddress(), e);
      out.onError(Status.UNAVAILABLE.withDescription("adding Raft peer " + r.getId()
          + " failed: " + e.getMessage()).asRuntimeException());
    }
  }

  private void submit(Command command, StreamObserver<CommandReply> out) {
    respond(applied(command), out);
  }

  /** The command's result once it is committed and applied on this node. */
  private CompletableFuture<CommandResult> applied(Command command) {
    return raft.submit(command)
        .thenCompose(result -> raft.stateMachine().whenApplied(result.getLogIndex())
            .orTimeout(APPLY_WAIT_SECONDS, TimeUnit.SECONDS)
            .thenApply(ignored -> result));
  }

  private static void respond(CompletableFuture<CommandResult> result,
      StreamObserver<CommandReply> out) {
    result.whenComplete((CommandResult done, Throwable error) -> {
      if (error == null) {
        reply(out, CommandReply.newBuilder()
            .setAssignmentVersion(done.getAssignmentVersion())
            .setLogIndex(done.getLogIndex()).build());
      } else {
        out.onError(toStatus(error));
      }
    });
  }

  /** Maps a state-machine rejection to a gRPC status carrying its reason verbatim. */
  static StatusRuntimeException toStatus(Throwable error) {
    Throwable e = error instanceof CompletionException && error.getCause() != null
        ? error.getCause() : error;
    if (e instanceof CommandRejectedException r) {
      Status status = switch (r.code()) {
        case INVALID -> Status.INVALID_ARGUMENT;
        case NOT_FOUND -> Status.NOT_FOUND;
        case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
        default -> Status.FAILED_PRECONDITION;
      };
      return status.withDescription(r.getMessage()).asRuntimeException();
    }
    if (e instanceof StatusRuntimeException already) {
      return already;
    }
    if (e instanceof java.util.concurrent.TimeoutException) {
      return Status.DEADLINE_EXCEEDED.withDescription(
          "the command committed but this node has not applied it yet").asRuntimeException();
    }
    LOG.warn("command failed", e);
    return Status.UNAVAILABLE.withDescription("no Raft leader could take the command: "
        + e.getMessage()).asRuntimeException();
  }

  private static List<RaftPeerInfo> peerInfos(List<RaftPeer> peers) {
    return peers.stream().map(p -> RaftPeerInfo.newBuilder().setId(p.getId().toString())
        .setAddress(p.getAddress()).build()).toList();
  }

  private static <T> void reply(StreamObserver<T> out, T value) {
    out.onNext(value);
    out.onCompleted();
  }
}
