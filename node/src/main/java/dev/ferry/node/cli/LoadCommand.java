package dev.ferry.node.cli;

import com.google.common.util.concurrent.RateLimiter;
import dev.ferry.client.AdminClient;
import dev.ferry.client.PrimaryClient;
import java.io.BufferedWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
import org.HdrHistogram.Recorder;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ferry load}: a primary load generator. Writes blocks of {@code --size} at random
 * block-aligned offsets of the given volumes, never across a region boundary, and reports
 * throughput and acknowledgement latency (HdrHistogram).
 */
@Command(name = "load", mixinStandardHelpOptions = true,
    description = "Write load to a cluster as one primary; report throughput and ack latency.")
final class LoadCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--cluster", required = true, paramLabel = "HOST:PORT[,HOST:PORT...]")
  String cluster;

  @Option(names = "--volumes", required = true, split = ",", paramLabel = "V1,V2,...")
  List<String> volumes;

  @Option(names = "--size", defaultValue = "4KiB", converter = SizeConverter.class,
      description = "bytes per write (default: ${DEFAULT-VALUE})")
  long size;

  @Option(names = "--seconds", defaultValue = "30", description = "duration (default: ${DEFAULT-VALUE})")
  int seconds;

  @Option(names = "--rate", defaultValue = "max", paramLabel = "N|max",
      description = "writes per second, or max (default: ${DEFAULT-VALUE})")
  String rate;

  @Option(names = "--inflight", defaultValue = "64",
      description = "writes in flight at most (default: ${DEFAULT-VALUE})")
  int inflight;

  @Option(names = "--ledger", paramLabel = "FILE",
      description = "append one line per acknowledged write: primaryId,clientSeq,volume,offset,length,crc32c,epoch,n")
  Path ledger;

  @Option(names = "--json", description = "print the summary as one JSON object")
  boolean json;

  @Option(names = "--primary-id", paramLabel = "ID", description = "default: a random one")
  String primaryId;

  @Option(names = "--show-epochs",
      description = "add the open and applied epoch and the RPO to the progress line, and the "
          + "RPO distribution (sampled every 100 ms) to the summary")
  boolean showEpochs;

  @Option(names = "--dependent", description = "dependent writes: --inflight chains, each write "
      + "sent only after the previous write of its chain was acknowledged, to another volume")
  boolean dependent;

  @Override
  public Integer call() throws Exception {
    if (size <= 0) {
      throw new IllegalArgumentException("--size must be positive");
    }
    if (seconds <= 0 || inflight <= 0) {
      throw new IllegalArgumentException("--seconds and --inflight must be positive");
    }
    RateLimiter limiter = rate.equals("max") ? null : RateLimiter.create(parseRate(rate));
    String id = primaryId != null ? primaryId : "load-" + UUID.randomUUID().toString().substring(0, 8);
    PrintWriter err = spec.commandLine().getErr();
    // Java 17 tells only whether the JVM has an interactive console (stdin and stdout): the
    // closest to "stderr is a terminal"; a CLI run by a script or a test has none
    boolean onTerminal = System.console() != null;
    Recorder latency = new Recorder(3);
    Histogram total = new Histogram(3);
    AtomicLong acked = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicLong lastError = new AtomicLong();
    Map<String, String> firstErrors = new java.util.concurrent.ConcurrentHashMap<>();
    BufferedWriter ledgerOut = ledger == null ? null : Files.newBufferedWriter(ledger,
        StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    StopOnSignal stop = StopOnSignal.install(spec.commandLine());
    try (PrimaryClient client = new PrimaryClient(AdminClient.parseAddresses(cluster), id, inflight,
        Duration.ofSeconds(30));
        AdminClient admin = new AdminClient(AdminClient.parseAddresses(cluster), Duration.ofSeconds(2));
        EpochSampler sampler = showEpochs ? new EpochSampler(admin) : null) {
      for (String v : volumes) {
        if (client.regionSize(v) < size) {
          throw new IllegalArgumentException("--size " + size + " is larger than the region size of "
              + v + " (" + client.regionSize(v) + ")");
        }
      }
      SplittableRandom random = new SplittableRandom();
      byte[] data = new byte[(int) size];
      long start = System.nanoTime();
      long end = start + Duration.ofSeconds(seconds).toNanos();
      long nextReport = start + 1_000_000_000L;
      long lastAcked = 0;
      int volumeTurn = 0;
      // with --dependent: chains whose previous write was acknowledged, ready for the next one;
      // each chain moves to another volume with every write
      java.util.concurrent.BlockingQueue<Integer> ready = new java.util.concurrent.LinkedBlockingQueue<>();
      int[] chainTurn = new int[inflight];
      for (int i = 0; i < inflight; i++) {
        ready.add(i);
        chainTurn[i] = i;
      }
      while (System.nanoTime() < end && !stop.requested()) {
        if (limiter != null) {
          limiter.acquire();
        }
        Integer chain = null;
        if (dependent) {
          chain = ready.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS);
          if (chain == null) {
            continue;
          }
        }
        Integer readyAgain = chain;
        String volume = dependent ? volumes.get(chainTurn[chain]++ % volumes.size())
            : volumes.get(volumeTurn++ % volumes.size());
        long offset = randomOffset(random, client.volumeSize(volume), client.regionSize(volume));
        random.nextBytes(data);
        byte[] payload = data.clone();
        long sent = System.nanoTime();
        client.write(volume, offset, payload).whenComplete((ack, e) -> {
          if (readyAgain != null) {
            ready.add(readyAgain);
          }
          if (e == null) {
            long micros = (System.nanoTime() - sent) / 1000;
            latency.recordValue(Math.max(1, micros));
            acked.incrementAndGet();
            if (ledgerOut != null) {
              writeLedger(ledgerOut, id, ack, volume, offset, payload);
            }
          } else {
            errors.incrementAndGet();
            lastError.set(System.nanoTime());
            firstErrors.putIfAbsent(e.getMessage() == null ? e.toString() : e.getMessage(), "");
          }
        });
        long now = System.nanoTime();
        if (now >= nextReport) {
          Histogram interval = latency.getIntervalHistogram();
          total.add(interval);
          long a = acked.get();
          if (!json) {
            String progress = String.format("%3ds  acked %,d (%,d/s)  errors %,d  p50 %,d us"
                    + "  p99 %,d us%s", (now - start) / 1_000_000_000L, a, a - lastAcked,
                errors.get(), interval.getValueAtPercentile(50),
                interval.getValueAtPercentile(99), sampler != null ? sampler.line() : "");
            // redrawn in place on a terminal; a line a second into a file or a pipe, where
            // carriage returns would run the lines together
            if (onTerminal) {
              err.print("\r" + progress + "   ");
            } else {
              err.println(progress);
            }
            err.flush();
          }
          lastAcked = a;
          nextReport += 1_000_000_000L;
        }
      }
      // let the writes in flight finish (bounded by the client's retry time)
      long drainUntil = System.nanoTime() + Duration.ofSeconds(35).toNanos();
      while (acked.get() + errors.get() < client.sent() && System.nanoTime() < drainUntil) {
        Thread.sleep(10); // a CLI waiting for acks, not a test
      }
      long elapsed = System.nanoTime() - start;
      total.add(latency.getIntervalHistogram());
      if (!json && onTerminal) {
        err.println();
      }
      report(id, acked.get(), errors.get(), elapsed, total, firstErrors,
          sampler == null ? null : sampler.rpo());
    } finally {
      if (ledgerOut != null) {
        synchronized (ledgerOut) {
          ledgerOut.close();
        }
      }
      stop.finished(errors.get() == 0 ? 0 : FerryCli.FAILED);
    }
    return errors.get() == 0 ? 0 : FerryCli.FAILED;
  }

  private static double parseRate(String rate) {
    try {
      double r = Double.parseDouble(rate);
      if (r > 0) {
        return r;
      }
    } catch (NumberFormatException e) {
      // fall through to the message
    }
    throw new IllegalArgumentException("--rate must be a positive number or 'max', got '" + rate + "'");
  }

  /** A block-aligned offset whose block lies inside one region. */
  private long randomOffset(SplittableRandom random, long volumeSize, long regionSize) {
    long regions = (volumeSize + regionSize - 1) / regionSize;
    long region = random.nextLong(regions);
    long regionBytes = Math.min(regionSize, volumeSize - region * regionSize);
    long blocks = regionBytes / size;
    if (blocks == 0) {
      return region * regionSize;
    }
    return region * regionSize + random.nextLong(blocks) * size;
  }

  private static void writeLedger(BufferedWriter out, String id, PrimaryClient.WriteAck ack,
      String volume, long offset, byte[] payload) {
    CRC32C crc = new CRC32C();
    crc.update(payload);
    String line = id + "," + ack.clientSeq() + "," + volume + "," + offset + "," + payload.length
        + "," + Integer.toUnsignedString((int) crc.getValue()) + "," + ack.epoch() + "," + ack.n();
    synchronized (out) {
      try {
        out.write(line);
        out.newLine();
        // each line reaches the file with its ack: a load killed mid-run leaves a whole record
        out.flush();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  }

  private void report(String id, long acked, long errors, long elapsedNanos, Histogram h,
      Map<String, String> firstErrors, Map<String, Long> rpo) {
    double secs = elapsedNanos / 1e9;
    double writesPerSec = acked / secs;
    double mbPerSec = acked * size / secs / 1e6;
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("primaryId", id);
      o.put("acked", acked);
      o.put("errors", errors);
      o.put("seconds", Math.round(secs * 1000) / 1000.0);
      o.put("writeBytes", size);
      o.put("writesPerSec", Math.round(writesPerSec * 10) / 10.0);
      o.put("mbPerSec", Math.round(mbPerSec * 100) / 100.0);
      o.put("p50Micros", h.getValueAtPercentile(50));
      o.put("p99Micros", h.getValueAtPercentile(99));
      o.put("p999Micros", h.getValueAtPercentile(99.9));
      o.put("maxMicros", h.getMaxValue());
      o.put("errorSamples", firstErrors.keySet().stream().limit(5).toList());
      if (rpo != null) {
        o.put("rpoMillis", rpo);
      }
      out.println(Json.GSON.toJson(o));
    } else {
      out.printf("%s: %,d writes acknowledged, %,d errors in %.1f s%n", id, acked, errors, secs);
      out.printf("throughput %,.0f writes/s, %.2f MB/s (%s writes)%n", writesPerSec, mbPerSec,
          dev.ferry.node.config.Units.formatSize(size));
      out.printf("ack latency p50 %,d us, p99 %,d us, p99.9 %,d us, max %,d us%n",
          h.getValueAtPercentile(50), h.getValueAtPercentile(99), h.getValueAtPercentile(99.9),
          h.getMaxValue());
      if (rpo != null) {
        out.printf("RPO p50 %,d ms, p99 %,d ms, max %,d ms (%,d samples, every 100 ms)%n",
            rpo.get("p50"), rpo.get("p99"), rpo.get("max"), rpo.get("samples"));
      }
      firstErrors.keySet().stream().limit(5).forEach(e -> out.println("error: " + e));
    }
    out.flush();
  }
}
