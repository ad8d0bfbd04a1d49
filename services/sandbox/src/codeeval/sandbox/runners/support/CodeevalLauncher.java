// Runs INSIDE the sandbox: the trusted judge around a Java candidate's test class.
// usage: java ... -m codeeval.judge/codeeval.judge.CodeevalLauncher TESTCLASS TRUSTED_ROOTS [CLASSES]
// TESTCLASS has a main or JUnit 5 tests; TRUSTED_ROOTS (':'-separated) are the only code locations
// granted more than the candidate (the judge module, the JUnit runner, the JUnit jars); CLASSES
// (','-separated) are the candidate's, whose value types are checked after the tests passed
// (ValueTypes.java); "@PATH" names a file that holds them (a long list: one argument is at most
// 128 KiB), read before the policy is installed.
// Protocol (runners/protocol.py): the first stdin line is the run's token, read byte by byte before any
// other code runs and kept only in this frame's locals; START before the tests, DONE + token only
// after they all passed. Exit codes: 101 a test failed (AssertionError or a JUnit failure), 102 any
// other uncaught throwable, 104 the test class has neither main nor tests, 105 the judge refused the
// candidate's code.
package codeeval.judge;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

public final class CodeevalLauncher {
    private CodeevalLauncher() {}

    public static void main(String[] args) throws IOException {
        FileInputStream in = new FileInputStream(FileDescriptor.in);
        StringBuilder token = new StringBuilder();
        int c;
        while ((c = in.read()) != -1 && c != '\n') {
            token.append((char) c);
        }
        PrintStream channel = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        String classes = args.length > 2 ? args[2] : null;
        if (classes != null && classes.startsWith("@")) {
            classes = Files.readString(Path.of(classes.substring(1)), StandardCharsets.UTF_8);
        }
        JudgePolicy.install(args.length > 1 ? args[1] : "");
        channel.print("\u001eCODEEVAL-START\n");
        channel.flush();
        int code = runTests(args[0]);
        if (code == 0 && classes != null) {
            String refused = ValueTypes.liar(classes);
            if (refused != null) {
                System.err.println("refused: " + refused);
                code = 105;
            }
        }
        System.out.flush();
        System.err.flush();
        if (code == 0) {
            channel.print("\n\u001eCODEEVAL-DONE " + token + "\n");
        }
        channel.flush();
        JudgePolicy.close();
        Runtime.getRuntime().halt(code);
    }

    private static int runTests(String name) {
        try {
            Class<?> tests = Class.forName(name, true, ClassLoader.getSystemClassLoader());
            Method main = mainOf(tests);
            if (main != null) {
                main.invoke(null, (Object) new String[0]);
                return 0;
            }
            Class<?> junit = Class.forName("codeeval.junit.JUnitRun", true, ClassLoader.getSystemClassLoader());
            Object code = junit.getMethod("run", Class.class).invoke(null, tests);
            return code instanceof Integer ? (Integer) code : 102;
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            report(cause);
            return cause instanceof AssertionError ? 101 : 102;
        } catch (Throwable t) {
            report(t);
            return t instanceof AssertionError ? 101 : 102;
        }
    }

    private static Method mainOf(Class<?> tests) {
        try {
            Method m = tests.getMethod("main", String[].class);
            return Modifier.isStatic(m.getModifiers()) ? m : null;
        } catch (NoSuchMethodException e) {
            return null;
        }
    }

    /** The stack trace; a candidate's exception may throw from its own toString: never let it escape. */
    private static void report(Throwable t) {
        try {
            t.printStackTrace();
        } catch (Throwable ignored) {
            System.err.println("uncaught " + t.getClass().getName());
        }
    }
}
