package dev.ferry.node.raft;

import com.google.common.net.HostAndPort;
import dev.ferry.control.ClusterState;
import dev.ferry.control.ratis.FerryStateMachine;
import dev.ferry.control.ratis.Rejections;
import dev.ferry.node.config.NodeConfig;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CommandResult;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcFactory;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/**
 * This node's Raft peer (ratis-grpc, persistent storage) and a Raft client for proposing
 * commands: the client finds the leader itself, so a command sent on a follower reaches it.
 *
 * <p>Thread-safe: Ratis owns its threads; the client is replaced under this object's lock when
 * the Raft configuration changes.
 */
public final class RaftNode implements Closeable {
  /** Ratis appender retry waits: "sleep,count" pairs (see RaftServerConfigKeys.Log.Appender). */
  static final String APPENDER_RETRY_POLICY = "1ms,10, 100ms,20, 250ms,100000000";

  private static final Logger LOG = LogManager.getLogger(RaftNode.class);

  private final NodeConfig config;
  private final RaftGroupId groupId;
  private final FerryStateMachine stateMachine = new FerryStateMachine();
  private final RaftProperties properties = new RaftProperties();
  private volatile RaftServer server;
  /**
   * The commit index this peer's log held when it started (what the state machine replays
   * before its state is current); Long.MAX_VALUE until the peer has started.
   */
  private volatile long commitIndexAtStart = Long.MAX_VALUE;
  private volatile boolean loaded;
  private RaftClient client;
  /** Set by {@link #close}: no client is built after it. */
  private boolean closed;
  /**
   * Closes replaced Raft clients and runs {@link #discard}, off the threads that hold this
   * node's lock or belong to a Ratis client (a closing client completes its pending requests on
   * the closing thread).
   */
  private static final java.util.concurrent.Executor CLIENT_CLOSER =
      java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "ferry-raft-client-closer");
        t.setDaemon(true);
        return t;
      });
  private List<RaftPeer> clientPeers = List.of();

  public RaftNode(NodeConfig config) {
    this.config = config;
    this.groupId = groupId(config.clusterName());
    appendEachRequestOnItsOwnThread(properties);
  }

  /** The Ratis settings this peer starts with (complete once {@link #start} has run). */
  RaftProperties properties() {
    return properties;
  }

  /** The Raft group id: derived from the cluster name so every member computes the same one. */
  public static RaftGroupId groupId(String clusterName) {
    return RaftGroupId.valueOf(
        UUID.nameUUIDFromBytes(("ferry-cluster:" + clusterName).getBytes(StandardCharsets.UTF_8)));
  }

  /** True when the storage directory already holds this group: restart without formatting. */
  public boolean hasStorage() {
    return Files.isDirectory(config.dir().resolve(groupId.getUuid().toString()));
  }

  /**
   * Starts the Raft peer. With {@code initialPeers} empty the peer starts outside any
   * configuration and waits to be added by the leader (joining a running cluster).
   */
  public void start(Collection<RaftPeer> initialPeers) throws IOException {
    Files.createDirectories(config.dir());
    RaftServerConfigKeys.setStorageDir(properties, List.of(config.dir().toFile()));
    GrpcConfigKeys.Server.setHost(properties, config.raftListen().getHost());
    GrpcConfigKeys.Server.setPort(properties, config.raftListen().getPort());
    RaftServerConfigKeys.Rpc.setTimeoutMin(properties, millis(config.electionTimeoutMin()));
    RaftServerConfigKeys.Rpc.setTimeoutMax(properties, millis(config.electionTimeoutMax()));
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(properties, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(properties, config.snapshotEvery());
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(properties, 2); // the latest two suffice
    RaftClientConfigKeys.Rpc.setRequestTimeout(properties, TimeDuration.valueOf(3, TimeUnit.SECONDS));
    // the leader's appender waits between tries to a follower by its error count: by default
    // 5 s once 30 tries failed in a row, which a follower down for a few seconds reaches. A
    // restarted member then caught up with the log 5 s at a time (9-11 s to apply its own
    // failure in soaks) while the cluster waited for it: retry every 250 ms instead
    RaftServerConfigKeys.Log.Appender.setRetryPolicy(properties, APPENDER_RETRY_POLICY);
    // a CloseEpoch grows with the portions (ControlLimits): Ratis refuses an entry past the
    // appender limit (4 MiB by default); its write buffer must exceed that limit + 8 bytes, the
    // gRPC frames and log segments must hold such an entry
    long entry = dev.ferry.control.ControlLimits.MAX_RAFT_ENTRY_BYTES;
    RaftServerConfigKeys.Log.Appender.setBufferByteLimit(properties, SizeInBytes.valueOf(entry));
    RaftServerConfigKeys.Log.setWriteBufferSize(properties, SizeInBytes.valueOf(entry + (1 << 20)));
    GrpcConfigKeys.setMessageSizeMax(properties, SizeInBytes.valueOf(entry + (4 << 20)));
    RaftServerConfigKeys.Log.setSegmentSizeMax(properties, SizeInBytes.valueOf(2 * entry));
    boolean recover = hasStorage();
    RaftGroup group = RaftGroup.valueOf(groupId, initialPeers);
    server = RaftServer.newBuilder()
        .setServerId(RaftPeerId.valueOf(config.id()))
        .setStateMachine(stateMachine)
        .setProperties(properties)
        .setGroup(group)
        .setOption(recover ? RaftStorage.StartupOption.RECOVER : RaftStorage.StartupOption.FORMAT)
        .build();
    server.start();
    try {
      commitIndexAtStart = server.getDivision(groupId).getRaftLog().getLastCommittedIndex();
    } catch (IOException | RuntimeException e) {
      LOG.warn("commit index at start unknown; the control state counts as loaded", e);
      commitIndexAtStart = -1;
    }
    LOG.info("Raft peer {} started on {} ({} {}), group {}", config.id(), config.raftListen(),
        recover ? "recovered" : "formatted", config.dir(), groupId);
  }

  /**
   * A follower appends each AppendEntries request's entries on the thread that received it,
   * instead of Ratis's default (since 3.2) of chaining every request's append onto one shared
   * future. In that chain a single failed append fails every later one with the same exception,
   * for as long as the process lives: the follower answers heartbeats, so it stays a voter, but
   * never appends again. That is the "Raft log wedge" of the soaks (docs/RELIABILITY.md, runs 2,
   * 7 and 9): after a leader change two appends overlapped ({@code SegmentedRaftLog: Already
   * running a method}), and the one that lost poisoned the chain; 1,032 later requests failed
   * with that one exception object, no thread stuck anywhere. (How two chained appends could
   * overlap is our reading of Ratis 3.3.0's bytecode: the chain is extended inside {@code
   * AtomicReference.updateAndGet}, whose function runs again when two requests race, and each
   * run attaches an append.) Without the chain, an append that collides with another fails that
   * request alone, and the leader sends it again.
   */
  static void appendEachRequestOnItsOwnThread(RaftProperties properties) {
    RaftServerConfigKeys.Log.setAppendEntriesComposeEnabled(properties, false);
  }

  public static RaftPeer peer(String id, HostAndPort address) {
    return RaftPeer.newBuilder().setId(id).setAddress(address.toString()).build();
  }

  public FerryStateMachine stateMachine() {
    return stateMachine;
  }

  public ClusterState state() {
    return stateMachine.state();
  }

  /** True once the Raft peer was started (the gRPC server starts a moment earlier). */
  public boolean started() {
    return server != null;
  }

  /**
   * True once the state machine has applied the log up to the commit index it held at start
   * (after a restart it replays its log first; until then its state may lack volumes and
   * members that exist). A node answers primaries and admin reads only then: before, its
   * answers would be taken for the cluster's ({@code NOT_FOUND} for a volume that exists).
   */
  public boolean controlStateLoaded() {
    if (loaded) {
      return true;
    }
    if (server == null) {
      return false;
    }
    var ti = stateMachine.applied().termIndex();
    long applied = ti == null ? -1 : ti.getIndex();
    if (applied >= commitIndexAtStart) {
      loaded = true;
      LOG.info("control state loaded: applied index {} (commit index at start {})", applied,
          commitIndexAtStart);
    }
    return loaded;
  }

  /** The commit index this peer's log held when it started; Long.MAX_VALUE before. */
  public long commitIndexAtStart() {
    return commitIndexAtStart;
  }

  private DivisionInfo info() throws IOException {
    if (server == null) {
      throw new IOException("the Raft peer is not started yet");
    }
    return server.getDivision(groupId).getInfo();
  }

  /** The current leader's id, if one is known to this peer. */
  public Optional<String> leaderId() {
    try {
      RaftPeerId leader = info().getLeaderId();
      return Optional.ofNullable(leader).map(RaftPeerId::toString);
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** True when this peer is the leader and has applied everything of earlier terms. */
  public boolean isReadyLeader() {
    try {
      DivisionInfo i = info();
      return i.isLeader() && i.isLeaderReady();
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * The Raft term this peer leads in, or 0 when it is not the ready leader. A decision taken
   * as leader names it (CloseEpoch, MarkFailed), so that it is refused if it reaches the log
   * only after this peer was deposed.
   */
  public long leaderTerm() {
    try {
      DivisionInfo i = info();
      return i.isLeader() && i.isLeaderReady() ? i.getCurrentTerm() : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  /**
   * On the leader: how long ago each follower last answered a Raft RPC (ms), by peer id. Empty
   * on a follower or before start. A second, independent sign of life for the failure detector.
   */
  public java.util.Map<String, Long> followerSilenceMillis() {
    try {
      var role = info().getRoleInfoProto();
      if (!role.hasLeaderInfo()) {
        return java.util.Map.of();
      }
      java.util.Map<String, Long> out = new java.util.HashMap<>();
      for (var f : role.getLeaderInfo().getFollowerInfoList()) {
        out.put(f.getId().getId().toStringUtf8(), f.getLastRpcElapsedTimeMs());
      }
      return out;
    } catch (IOException | RuntimeException e) {
      return java.util.Map.of();
    }
  }

  public long appliedIndex() {
    try {
      return info().getLastAppliedIndex();
    } catch (IOException | RuntimeException e) {
      // RuntimeException: Ratis while the division starts ("stateMachineUpdater is uninitialized")
      return -1;
    }
  }

  /** The peers of the current Raft configuration, as this peer knows it. */
  public List<RaftPeer> raftPeers() {
    if (server == null) {
      return List.of();
    }
    try {
      return new ArrayList<>(server.getDivision(groupId).getRaftConf().getCurrentPeers());
    } catch (IOException e) {
      return List.of();
    }
  }

  /**
   * Proposes a command through Raft (whichever peer leads) and completes with the result of
   * applying it, or exceptionally with {@link CommandRejectedException} carrying the state
   * machine's reason.
   */
  public CompletableFuture<CommandResult> submit(Command command) {
    Message message = Message.valueOf(ByteString.copyFrom(command.toByteArray()));
    RaftClient used;
    try {
      used = client();
    } catch (IllegalStateException closed) {
      return CompletableFuture.failedFuture(closed);
    }
    return used.async().send(message)
        .handle((reply, error) -> {
          if (error != null && poisonsTheClient(error)) {
            // never inline: closing a client fails its pending requests on the closing thread,
            // which may hold this node's lock (close, a client rebuilt for new peers)
            CLIENT_CLOSER.execute(() -> discard(used, error));
          }
          return error == null ? result(reply) : rethrow(error);
        });
  }

  /**
   * Once one ordered async request runs out of retries (no leader for a while), the Ratis
   * client's sliding window keeps that failure and fails every later request at once with
   * AlreadyClosedException: the client is dead for good. Seen as a node that stopped
   * recording its stagings (and, as leader, closing epochs) after a leader change.
   */
  private static boolean poisonsTheClient(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof org.apache.ratis.protocol.exceptions.RaftRetryFailureException
          || t instanceof org.apache.ratis.protocol.exceptions.AlreadyClosedException) {
        return true;
      }
    }
    return false;
  }

  /** Drops {@code dead} if it is still the client in use: the next request builds a new one. */
  private synchronized void discard(RaftClient dead, Throwable why) {
    if (client == dead) {
      LOG.warn("Raft client {} gave up ({}); a new client takes the next requests",
          dead.getId(), String.valueOf(why));
      client = null;
      closeQuietly(dead); // on CLIENT_CLOSER: not one of the dead client's own threads
    }
  }

  private static CommandResult rethrow(Throwable error) {
    Optional<Rejections.Rejection> r = Rejections.find(error);
    if (r.isPresent()) {
      throw new CommandRejectedException(r.get().code(), r.get().reason());
    }
    throw error instanceof CompletionException c ? c : new CompletionException(error);
  }

  private static CommandResult result(RaftClientReply reply) {
    if (!reply.isSuccess()) {
      Throwable e = reply.getException();
      Optional<Rejections.Rejection> r = Rejections.find(e);
      if (r.isPresent()) {
        throw new CommandRejectedException(r.get().code(), r.get().reason());
      }
      throw new CompletionException(e == null ? new IOException("Raft request failed") : e);
    }
    try {
      CommandResult result =
          CommandResult.parseFrom(reply.getMessage().getContent().toByteArray());
      if (!result.getAccepted()) {
        throw new CommandRejectedException(result.getCode(), result.getReason());
      }
      return result;
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new CompletionException(e);
    }
  }

  /** Adds a peer to the Raft configuration; returns once the new configuration is committed. */
  public List<RaftPeer> addPeer(RaftPeer newPeer) throws IOException {
    return setConfiguration(SetConfigurationRequest.Arguments.newBuilder()
        .setServersInNewConf(List.of(newPeer))
        .setMode(SetConfigurationRequest.Mode.ADD)
        .build(), "adding Raft peer " + newPeer.getId());
  }

  /**
   * Removes a peer from the Raft configuration (DESIGN.md §6: an explicit step, never implied
   * by a member's state); returns once the new configuration is committed. Nothing happens if
   * it is not a peer.
   */
  public List<RaftPeer> removePeer(String id) throws IOException {
    List<RaftPeer> now = raftPeers();
    List<RaftPeer> remaining = now.stream().filter(p -> !p.getId().toString().equals(id)).toList();
    if (remaining.size() == now.size()) {
      return now;
    }
    return setConfiguration(SetConfigurationRequest.Arguments.newBuilder()
        .setServersInNewConf(remaining)
        .setMode(SetConfigurationRequest.Mode.SET_UNCONDITIONALLY)
        .build(), "removing Raft peer " + id);
  }

  private List<RaftPeer> setConfiguration(SetConfigurationRequest.Arguments change, String what)
      throws IOException {
    RaftClientReply reply = client().admin().setConfiguration(change);
    if (!reply.isSuccess()) {
      throw new IOException(what + " failed: " + reply.getException());
    }
    return raftPeers();
  }

  private synchronized RaftClient client() {
    List<RaftPeer> peers = raftPeers();
    if (peers.isEmpty()) {
      peers = List.of(peer(config.id(), config.raftListen()));
    }
    if (closed) {
      throw new IllegalStateException("Raft node " + config.id() + " is closed");
    }
    if (client == null || !peers.equals(clientPeers)) {
      RaftClient old = client;
      if (old != null) {
        CLIENT_CLOSER.execute(() -> closeQuietly(old)); // not under the lock: see submit
      }
      client = RaftClient.newBuilder()
          .setProperties(properties)
          .setRaftGroup(RaftGroup.valueOf(groupId, peers))
          .setClientId(ClientId.randomId())
          .setClientRpc(new GrpcFactory(new Parameters())
              .newRaftClientRpc(ClientId.randomId(), properties))
          // bounded: an admin call fails with a reason instead of hanging without a leader
          .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(
              40, TimeDuration.valueOf(150, TimeUnit.MILLISECONDS)))
          .build();
      clientPeers = peers;
    }
    return client;
  }

  private static TimeDuration millis(Duration d) {
    return TimeDuration.valueOf(d.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static void closeQuietly(Closeable c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException e) {
        LOG.debug("closing Raft client", e);
      }
    }
  }

  @Override
  public void close() throws IOException {
    RaftClient last;
    synchronized (this) {
      closed = true;
      last = client;
      client = null;
    }
    closeQuietly(last); // outside the lock: its pending requests fail here (see submit)
    if (server != null) {
      server.close();
    }
  }
}
