package dev.ferry.node;

import com.google.common.net.HostAndPort;
import dev.ferry.client.AdminClient;
import dev.ferry.control.ClusterState;
import dev.ferry.control.Member;
import dev.ferry.node.admin.AdminService;
import dev.ferry.node.config.NodeConfig;
import dev.ferry.node.coordinator.Coordinator;
import dev.ferry.node.coordinator.UnreachableReporter;
import dev.ferry.node.data.DataPlane;
import dev.ferry.node.data.WriteOutcomes;
import dev.ferry.node.data.IngestService;
import dev.ferry.node.data.PeerService;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.journal.Journal;
import dev.ferry.node.journal.JournalOptions;
import dev.ferry.node.journal.StoredRecord;
import dev.ferry.node.raft.CommandRejectedException;
import dev.ferry.node.raft.RaftNode;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.RegisterMember;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.ratis.protocol.RaftPeer;

/**
 * One Ferry node: the Raft peer of the control plane, the gRPC server (Admin, health,
 * reflection), the coordinator (active on the leader only) and the registration of this node as
 * a member.
 */
public final class FerryNode implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(FerryNode.class);
  private static final Duration REGISTER_RETRY = Duration.ofMillis(300);

  private final NodeConfig config;
  private final RaftNode raft;
  private final Coordinator coordinator;
  private final HealthStatusManager health = new HealthStatusManager();
  private final ScheduledExecutorService registrar =
      Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ferry-registrar");
        t.setDaemon(true);
        return t;
      });
  private final CountDownLatch registered = new CountDownLatch(1);
  /** The failure epoch last said to be waited out before rejoining (registrar thread only). */
  private long waitingToRejoinAfter = -1;
  private Server grpc;
  private Server ingestGrpc;
  private Journal journal;
  private DataPlane data;
  private UnreachableReporter reporter;
  private NodeMetrics metrics;
  private int metricsPort = -1;

  private final Disk disk;

  public FerryNode(NodeConfig config) {
    this(config, Disk.REAL);
  }

  /** A node whose journal uses {@code disk} (tests inject slow or failing disks). */
  public FerryNode(NodeConfig config, Disk disk) {
    this.config = config;
    this.disk = disk;
    this.raft = new RaftNode(config);
    // a peer whose Raft log cannot write stops by name (exit status 70) rather than stay a
    // member that cannot follow the cluster
    raft.stateMachine().onLogFailed(JournalOptions::halt);
    this.coordinator = new Coordinator(raft, config.coordinatorTick(), config.ctsPeriod(),
        config.id(), config.heartbeatInterval(), config.failureTimeout(),
        config.ctsMaxPendingEpochs());
  }

  public void start() throws IOException {
    // the JVM's own start (class loading, log set-up) is part of a restart's cost: say it
    LOG.info("node {} starting, pid {}, {} ms after its JVM started", config.id(),
        ProcessHandle.current().pid(),
        java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime());
    NodeConfig.DataPathConfig d = config.data();
    List<StoredRecord> replayed = new ArrayList<>();
    JournalOptions defaults = JournalOptions.defaults();
    journal = Journal.openAt(d.journalDir(), new JournalOptions(d.journalSegmentBytes(),
        d.journalBudgetBytes(), d.durable(), disk, defaults.onFatal()), replayed::add);
    LOG.info("journal {}: {} records recovered, {} bytes, {}", d.journalDir(), replayed.size(),
        journal.bytesUsed(), d.durable() ? "durable (fsync)" : "mirrored (no fsync)");
    data = new DataPlane(config.id(), journal, raft::state, d.maxWriteBytes(), replayed,
        raft::submit);
    replayed.clear();
    reporter = new UnreachableReporter(config.id(), raft, coordinator);
    data.onUnreachable(reporter::report);
    data.haltInHandoffPerSystemProperty();
    data.waitForControlState(raft::controlStateLoaded);
    raft.stateMachine().addListener(data::stateChanged);
    WriteOutcomes outcomes = WriteOutcomes.NONE; // no metrics: nothing counted on the write path
    if (config.metricsListen() != null) {
      metrics = new NodeMetrics(raft::state, java.time.Clock.systemUTC(), journal::bytesUsed,
          d.journalBudgetBytes());
      data.onRepair(metrics::repaired);
      outcomes = metrics;
      metricsPort = metrics.serve(config.metricsListen());
      LOG.info("node {} serves metrics on http://{}:{}/metrics", config.id(),
          config.metricsListen().getHost(), metricsPort);
    }
    IngestService ingest = new IngestService(data, d.streamWindowBytes(), d.nodeWindowBytes(),
        () -> raft.state().assignmentVersion(), outcomes, System::nanoTime)
        .whileNotReady(() -> raft.controlStateLoaded() ? java.util.Optional.empty()
            : java.util.Optional.of("node " + config.id() + " is starting: control state not loaded"));
    NettyServerBuilder main = NettyServerBuilder
        .forAddress(new InetSocketAddress(config.listen().getHost(), config.listen().getPort()))
        // Freeze requests and handoffs grow with the portions (ControlLimits)
        .maxInboundMessageSize(dev.ferry.control.ControlLimits.MAX_PEER_MESSAGE_BYTES)
        .addService(new AdminService(config.id(), raft, config.defaultRegionSize(),
            config.volumeLimits(), coordinator, java.time.Clock.systemUTC()))
        .addService(new PeerService(data, () -> raft.state().assignmentVersion(),
            coordinator::suspect))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance());
    if (d.ingestListen() == null) {
      main.addService(ingest); // primary and peer traffic share one port
    } else {
      ingestGrpc = NettyServerBuilder
          .forAddress(new InetSocketAddress(d.ingestListen().getHost(), d.ingestListen().getPort()))
          .addService(ingest)
          .addService(health.getHealthService())
          .build()
          .start();
      LOG.info("node {} takes primaries' writes on {}", config.id(), d.ingestListen());
    }
    grpc = main.build().start();
    health.setStatus("", ServingStatus.NOT_SERVING);
    LOG.info("node {} serving gRPC on {}", config.id(), config.listen());

    boolean joining = !config.join().isBlank() && !raft.hasStorage();
    raft.start(joining ? List.of() : initialPeers());
    if (joining) {
      join();
    }
    coordinator.start();
    Periodic.everyDelay(registrar, REGISTER_RETRY, LOG, "registering as a member",
        this::registerIfNeeded);
  }

  private List<RaftPeer> initialPeers() {
    List<RaftPeer> peers = new ArrayList<>();
    config.peers().forEach((id, address) -> peers.add(RaftNode.peer(id, address)));
    if (peers.isEmpty()) {
      peers.add(RaftNode.peer(config.id(), config.raftListen()));
    } else if (!config.peers().containsKey(config.id())) {
      throw new IllegalArgumentException("cluster.peers does not list this node's id '"
          + config.id() + "'");
    }
    return peers;
  }

  /** Asks a running member to add this node's Raft peer to the configuration. */
  private void join() throws IOException {
    LOG.info("joining the cluster through {}", config.join());
    try (AdminClient admin = new AdminClient(AdminClient.parseAddresses(config.join()),
        Duration.ofSeconds(60))) {
      admin.addRaftPeer(config.id(), config.raftListen().toString());
    } catch (RuntimeException e) {
      throw new IOException("cannot join through " + config.join() + ": " + e.getMessage(), e);
    }
    LOG.info("added to the Raft configuration");
  }

  /** Registers this node as a member until the replicated state shows it (retries quietly). */
  private void registerIfNeeded() {
    if (!raft.controlStateLoaded()) {
      // replaying: the state may not show this node's failure yet, and a registration with
      // the incarnation it shows is refused ("must rejoin with a higher incarnation")
      return;
    }
    ClusterState s = raft.state();
    Member me = s.members().get(config.id());
    String address = config.listen().toString();
    String ingestAddress = config.data().ingestListen() == null ? address
        : config.data().ingestListen().toString();
    if (me != null && me.address().equals(address) && me.ingestAddress().equals(ingestAddress)
        && (me.state() == MemberState.JOINING || me.state() == MemberState.ACTIVE)) {
      if (me.state() == MemberState.ACTIVE) {
        health.setStatus("", ServingStatus.SERVING);
        registered.countDown();
        // keeps running: a node declared FAILED while it runs registers a new incarnation
      }
      return;
    }
    if (me != null && me.address().equals(address)
        && (me.state() == MemberState.DRAINING || me.state() == MemberState.REMOVED)) {
      return; // leaving, or gone: nothing to register
    }
    if (me != null && me.state() == MemberState.FAILED
        && me.failureUnsettled(s.consistentEpoch())) {
      // the state machine refuses the new incarnation until the survivors have made the
      // failed one's copies again (its FAILED record counts against copies - 1 until then)
      if (waitingToRejoinAfter != me.failedAtEpoch()) {
        waitingToRejoinAfter = me.failedAtEpoch();
        LOG.info("declared FAILED in epoch {}: rejoining once epoch {} is applied",
            me.failedAtEpoch(), me.failedAtEpoch() + 1);
      }
      return;
    }
    long incarnation = me == null ? 1 : me.incarnation() + (me.state() == MemberState.FAILED ? 1 : 0);
    if (me != null && me.state() == MemberState.FAILED) {
      // the others handed over what this node held when it was declared failed
      data.dropHandedOver().join();
    }
    Command register = Command.newBuilder().setRegisterMember(RegisterMember.newBuilder()
        .setId(config.id()).setAddress(address).setIncarnation(incarnation)
        .setIngestAddress(ingestAddress.equals(address) ? "" : ingestAddress)).build();
    try {
      raft.submit(register).get(5, TimeUnit.SECONDS);
      LOG.info("registered as member {} (incarnation {})", config.id(), incarnation);
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable cause = e.getCause() instanceof java.util.concurrent.CompletionException c
          && c.getCause() != null ? c.getCause() : e.getCause();
      if (cause instanceof CommandRejectedException r) {
        LOG.error("registration rejected: {}", r.getMessage());
      } else {
        LOG.debug("registration not done yet: {}", String.valueOf(cause));
      }
    } catch (java.util.concurrent.TimeoutException e) {
      LOG.debug("registration not done yet: timed out");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void stopServer(Server server) {
    if (server == null) {
      return;
    }
    server.shutdown();
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdownNow();
    }
  }

  /** Bytes the journal holds on disk. */
  public long journalBytes() {
    return journal.bytesUsed();
  }

  public DataPlane data() {
    return data;
  }

  public RaftNode raft() {
    return raft;
  }

  /** The coordinator (active while this node leads). */
  public Coordinator coordinator() {
    return coordinator;
  }

  /** This node's member id. */
  public String id() {
    return config.id();
  }

  public HostAndPort listenAddress() {
    return config.listen();
  }

  /** The port of the metrics endpoint (metrics.listen), or -1 when it is off. */
  public int metricsPort() {
    return metricsPort;
  }

  /** Blocks until the JVM shuts down (the shutdown hook closes the node). */
  public void awaitTermination() throws InterruptedException {
    grpc.awaitTermination();
  }

  @Override
  public void close() {
    LOG.info("node {} stopping", config.id());
    registrar.shutdownNow();
    coordinator.close();
    health.enterTerminalState();
    stopServer(ingestGrpc);
    stopServer(grpc);
    if (reporter != null) {
      reporter.close();
    }
    if (metrics != null) {
      metrics.close();
    }
    if (data != null) {
      data.close();
    }
    if (journal != null) {
      journal.close();
    }
    try {
      raft.close();
    } catch (IOException e) {
      LOG.warn("closing the Raft peer", e);
    }
  }
}
