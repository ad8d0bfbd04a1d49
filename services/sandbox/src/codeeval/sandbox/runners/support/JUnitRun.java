// Runs INSIDE the sandbox, on the class path beside the tests (JUnit is not a module here): runs the
// JUnit 5 tests of one class in this JVM and returns the judge's exit code. A test passes only as a
// success: an aborted test (a failed assumption, which a candidate can throw) is not one.
package codeeval.junit;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintWriter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

public final class JUnitRun {
    private JUnitRun() {}

    public static int run(Class<?> tests) {
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectClass(tests)).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request, listener);
        TestExecutionSummary summary = listener.getSummary();
        if (summary.getTestsFoundCount() == 0) {
            System.err.println("no main method and no JUnit tests in " + tests.getName());
            return 104;
        }
        if (summary.getTotalFailureCount() > 0) {
            summary.printFailuresTo(new PrintWriter(System.err, true), 20);
            return 101;
        }
        if (summary.getTestsAbortedCount() > 0 || summary.getTestsSucceededCount() == 0) {
            System.err.println(summary.getTestsAbortedCount() + " test(s) aborted, "
                               + summary.getTestsSucceededCount() + " succeeded");
            return 101;
        }
        return 0;
    }
}
