package dev.ferry.node.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The network of a local cluster started with {@code cluster up --netns K}: every process in
 * a Linux network namespace of its own, all on one bridge, so that a partition can cut nodes
 * off from each other while primaries and the secondary still reach them (on loopback nothing
 * tells one node's connections from another's).
 *
 * <p>Layout, subnet 198.18.K.0/24 (RFC 2544 benchmarking space, never routed off the machine):
 * the bridge {@code br0} in namespace {@code ferryK-br}; host {@code h} (node {@code n<i>} at
 * 198.18.K.i, the secondary {@code sec} at .99) in namespace {@code ferryK-h}, linked to the
 * bridge by the veth pair {@code ferryK-ha}/{@code ferryK-hb}; this machine's root namespace at
 * .254 on veth {@code ferryK-host}, so the CLI, primaries and tests reach every process.
 *
 * <p>A partition is a pair of blackhole routes per cut link, one in each namespace: new
 * connections fail at once, packets of open ones are dropped (TCP retransmits until the route
 * goes). Needs root and iproute2's {@code ip}; every change runs as an {@code ip} command and
 * fails with its output.
 */
final class LocalNetwork {
  static final int SECONDARY_OCTET = 99;
  private static final int HOST_OCTET = 254;
  private static final String BRIDGE = "br0";

  /** K: the third octet of the subnet and the namespaces' prefix. */
  final int subnet;

  LocalNetwork(int subnet) {
    if (subnet < 0 || subnet > 255) {
      throw new IllegalArgumentException("--netns must be between 0 and 255, got " + subnet);
    }
    this.subnet = subnet;
  }

  String address(int octet) {
    return "198.18." + subnet + "." + octet;
  }

  /** The last octet of node {@code n<i>}'s address: i. */
  static int octetOf(String nodeId) {
    return Integer.parseInt(nodeId.substring(1));
  }

  private String namespace(String host) {
    return "ferry" + subnet + "-" + host;
  }

  private static boolean namespaceExists(String name) {
    return Files.exists(Path.of("/run/netns", name));
  }

  /** The command prefix that runs a program in {@code host}'s namespace. */
  List<String> execIn(String host) {
    return List.of("ip", "netns", "exec", namespace(host));
  }

  /** Makes the bridge and the root namespace's link to it, unless they exist. */
  void ensureBridge() throws IOException, InterruptedException {
    String br = namespace("br");
    if (namespaceExists(br)) {
      return;
    }
    ip("netns", "add", br);
    ip("-n", br, "link", "add", BRIDGE, "type", "bridge");
    ip("-n", br, "link", "set", BRIDGE, "up");
    String host = "ferry" + subnet + "-host";
    ip("link", "add", host, "type", "veth", "peer", "name", host + "b", "netns", br);
    ip("addr", "add", address(HOST_OCTET) + "/24", "dev", host);
    ip("link", "set", host, "up");
    ip("-n", br, "link", "set", host + "b", "master", BRIDGE, "up");
  }

  /** Makes {@code host}'s namespace at 198.18.K.{@code octet}, on the bridge, unless it exists. */
  void ensureHost(String host, int octet) throws IOException, InterruptedException {
    ensureBridge();
    String ns = namespace(host);
    if (namespaceExists(ns)) {
      return;
    }
    String veth = namespace(host);
    ip("netns", "add", ns);
    ip("-n", ns, "link", "set", "lo", "up");
    ip("link", "add", veth + "a", "netns", ns, "type", "veth", "peer", "name", veth + "b",
        "netns", namespace("br"));
    ip("-n", ns, "addr", "add", address(octet) + "/24", "dev", veth + "a");
    ip("-n", ns, "link", "set", veth + "a", "up");
    ip("-n", namespace("br"), "link", "set", veth + "b", "master", BRIDGE, "up");
  }

  /**
   * Cuts node {@code cut} off from each of {@code others} (node ids), both ways; the root
   * namespace (primaries) and the secondary still reach it, and it them.
   */
  void partition(String cut, List<String> others) throws IOException, InterruptedException {
    for (String other : others) {
      ip("-n", namespace(cut), "route", "replace", "blackhole",
          address(octetOf(other)) + "/32");
      ip("-n", namespace(other), "route", "replace", "blackhole",
          address(octetOf(cut)) + "/32");
    }
  }

  /** Removes every cut: the blackhole routes of {@code hosts}' namespaces. */
  void heal(List<String> hosts) throws IOException, InterruptedException {
    for (String h : hosts) {
      if (namespaceExists(namespace(h))) {
        ip("-n", namespace(h), "route", "flush", "type", "blackhole");
      }
    }
  }

  /**
   * Before a new cluster uses this subnet: namespaces of it left by a cluster that was not
   * brought down (killed, or a test stopped half-way) are deleted, cut links and all, since
   * reusing them would keep their blackhole routes; if a process still runs in one of them,
   * another cluster uses the subnet and this one is refused.
   */
  void clearStale(List<String> hosts) throws IOException, InterruptedException {
    List<String> all = new ArrayList<>(hosts);
    all.add("br");
    boolean any = false;
    for (String h : all) {
      if (!namespaceExists(namespace(h))) {
        continue;
      }
      any = true;
      String pids = ip("netns", "pids", namespace(h));
      if (!pids.isBlank()) {
        throw new IOException("network namespace " + namespace(h) + " is in use (pids "
            + pids.replace('\n', ' ') + "): another cluster runs on subnet 198.18." + subnet
            + ".0/24; bring it down or choose another --netns");
      }
    }
    if (any) {
      remove(hosts);
    }
  }

  /** Deletes {@code hosts}' namespaces, the bridge and the root namespace's link. */
  void remove(List<String> hosts) throws IOException, InterruptedException {
    List<String> all = new ArrayList<>(hosts);
    all.add("br");
    String link = "ferry" + subnet + "-host";
    if (Files.exists(Path.of("/sys/class/net", link))) {
      ip("link", "del", link);
    }
    for (String h : all) {
      if (namespaceExists(namespace(h))) {
        ip("netns", "del", namespace(h));
      }
    }
  }

  /** Runs {@code ip args}; its output, or an IOException with it if it failed. */
  private static String ip(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add("ip");
    cmd.addAll(List.of(args));
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new IOException("cannot run 'ip' (iproute2; --netns needs it, and root): "
          + e.getMessage(), e);
    }
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException(String.join(" ", cmd) + ": no answer in 30 s");
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): "
          + out + (out.contains("Operation not permitted") ? " (--netns needs root)" : ""));
    }
    return out;
  }
}
