package dev.ferry.node;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The rooms of the code and what may not cross between them (issue 11; docs/DESIGN-NOTES.md).
 * Production classes only.
 */
class ArchitectureTest {
  private static JavaClasses ferry;

  @BeforeAll
  static void importFerry() {
    ferry = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("dev.ferry");
  }

  /**
   * The primary site does not reach into the DR site's code: what both sites must agree on (the
   * watermark of a portion's epoch) lives beside the replicated state, in dev.ferry.control.
   */
  @Test
  void thePrimarySitesDataPathAndCoordinatorDoNotUseTheSecondarysPackage() {
    noClasses().that().resideInAnyPackage("dev.ferry.node.data..", "dev.ferry.node.coordinator..")
        .should().dependOnClassesThat().resideInAPackage("dev.ferry.node.secondary..")
        .check(ferry);
  }

  /**
   * The replicated control state is pure: immutable values and a step function, no threads,
   * futures, RPC, Raft or files (the Ratis adapter lives in dev.ferry.control.ratis), so that it
   * can be stepped by a test or a simulation exactly as the state machine steps it.
   */
  @Test
  void theReplicatedControlStateIsPure() {
    noClasses().that().resideInAPackage("dev.ferry.control")
        .should().dependOnClassesThat().resideInAnyPackage("io.grpc..", "java.util.concurrent..",
            "org.apache.ratis..", "java.nio.file..", "java.nio.channels..", "java.io..",
            "dev.ferry.node..")
        .because("the control state is stepped as a pure function of its commands")
        .check(ferry);
  }

  /**
   * The data plane's decisions are plain state (issue 11): no threads, futures, RPC or files, so
   * that a test or a simulation steps them exactly as the data thread does.
   */
  @Test
  void theDataPlanesStateIsPure() {
    noClasses().that().resideInAPackage("dev.ferry.node.data.state")
        .should().dependOnClassesThat().resideInAnyPackage("io.grpc..", "java.util.concurrent..",
            "java.nio..", "java.io..", "org.apache.ratis..", "dev.ferry.node.journal..",
            "dev.ferry.node.data", "dev.ferry.node.secondary..", "dev.ferry.node.coordinator..")
        .because("the data plane's decisions are stepped as plain state by the data thread")
        .check(ferry);
  }
}
