package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Manual inbound flow control: a stream asks for more only while both windows have room. */
class InflightWindowTest {
  @Test
  void aStreamStopsAskingAtItsWindowAndResumesWhenWritesAreAnswered() {
    InflightWindow node = new InflightWindow(1_000_000);
    AtomicInteger requests = new AtomicInteger();
    InflightWindow.Stream s = node.new Stream(100, requests::incrementAndGet);
    s.received(40);
    s.received(40);
    assertThat(requests).hasValue(2);
    s.received(40); // 120 >= 100: no further request
    assertThat(requests).hasValue(2);
    s.answered(40); // 80 < 100: ask again
    assertThat(requests).hasValue(3);
    assertThat(node.nodeBytes()).isEqualTo(80);
  }

  @Test
  void theNodeWindowPausesEveryStreamAndAnAnswerOnOneResumesTheOther() {
    InflightWindow node = new InflightWindow(100);
    AtomicInteger a = new AtomicInteger();
    AtomicInteger b = new AtomicInteger();
    InflightWindow.Stream sa = node.new Stream(1000, a::incrementAndGet);
    InflightWindow.Stream sb = node.new Stream(1000, b::incrementAndGet);
    sa.received(60);
    sb.received(60); // node at 120: b is paused although its own window has room
    assertThat(a).hasValue(1);
    assertThat(b).hasValue(0);
    sa.answered(60); // node back to 60: b resumes
    assertThat(b).hasValue(1);
    assertThat(a).hasValue(1); // a was not paused, so it is not asked twice
  }

  @Test
  void aClosedStreamIsNotResumedAndItsAnsweredWritesGiveTheirBytesBack() {
    InflightWindow node = new InflightWindow(100);
    AtomicInteger requests = new AtomicInteger();
    InflightWindow.Stream s = node.new Stream(50, requests::incrementAndGet);
    s.received(70); // paused
    s.closed();
    s.answered(70);
    assertThat(requests).as("a closed stream asks for nothing").hasValue(0);
    assertThat(node.nodeBytes()).isZero();
  }
}
