// Runs INSIDE the sandbox: the trusted wrapper around a Java candidate's test class.
// usage: java ... CodeevalLauncher CLASS   (CLASS: the test class, with a main or JUnit 5 tests)
// Same protocol as harness.py: first stdin line = completion token; START before the tests run,
// DONE + token only after they all passed. Exit codes: 101 a test failed (AssertionError or a JUnit
// failure), 102 any other uncaught throwable, 104 the test class has neither main nor tests.
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;

public final class CodeevalLauncher {
    public static void main(String[] args) throws IOException {
        FileInputStream in = new FileInputStream(FileDescriptor.in);
        StringBuilder token = new StringBuilder();
        int c;
        while ((c = in.read()) != -1 && c != '\n') {
            token.append((char) c);
        }
        PrintStream channel = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        channel.print("\u001eCODEEVAL-START\n");
        channel.flush();
        int code;
        try {
            Class<?> tests = Class.forName(args[0]);
            Method main = null;
            try {
                main = tests.getMethod("main", String[].class);
            } catch (NoSuchMethodException e) {
                main = null;
            }
            if (main != null) {
                main.invoke(null, (Object) new String[0]);
                code = 0;
            } else {
                code = JUnitRun.run(tests);
            }
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            cause.printStackTrace();
            code = cause instanceof AssertionError ? 101 : 102;
        } catch (Throwable t) {
            t.printStackTrace();
            code = t instanceof AssertionError ? 101 : 102;
        }
        System.out.flush();
        System.err.flush();
        if (code == 0) {
            channel.print("\n\u001eCODEEVAL-DONE " + token + "\n");
            channel.flush();
        }
        Runtime.getRuntime().halt(code);
    }
}
