package dev.ferry.node.raft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.apache.ratis.retry.MultipleLinearRandomRetry;
import org.apache.ratis.retry.RetryPolicy;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.junit.jupiter.api.Test;

/**
 * The leader's waits between tries to a follower that failed many times in a row: Ratis's
 * default waits 5 s from the 31st failure on, so a member back from a crash of a few seconds
 * caught up with the log 5 s per try (11 s in the soak before it even saw its own failure).
 */
class AppenderRetryPolicyTest {
  private static long sleepMillisAfter(RetryPolicy policy, int failures) {
    RetryPolicy.Action a = policy.handleAttemptFailure(() -> failures);
    assertThat(a.shouldRetry()).as("retries after %d failures", failures).isTrue();
    return a.getSleepTime().toLong(TimeUnit.MILLISECONDS);
  }

  @Test
  void aFollowerBackAfterManyFailedTriesIsTriedAgainWithinAQuarterSecond() {
    RetryPolicy ferry = MultipleLinearRandomRetry.parseCommaSeparated(RaftNode.APPENDER_RETRY_POLICY);
    assertThat(ferry).as("Ratis parses it").isNotNull();
    for (int failures : new int[] {5, 31, 1_000, 10_000_000}) {
      // linear random: up to 1.5 times the configured 250 ms
      assertThat(sleepMillisAfter(ferry, failures)).isLessThanOrEqualTo(375);
    }
    RetryPolicy ratisDefault = MultipleLinearRandomRetry.parseCommaSeparated(
        RaftServerConfigKeys.Log.Appender.RETRY_POLICY_DEFAULT);
    assertThat(sleepMillisAfter(ratisDefault, 31)).as("what it replaces").isGreaterThan(2_000);
  }
}
