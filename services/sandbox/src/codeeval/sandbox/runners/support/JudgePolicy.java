// Runs INSIDE the sandbox: what the candidate's code (and the test's: everything loaded from a code
// location outside TRUSTED_ROOTS) may do, enforced by the JDK's access controller (JDK 17: the Security
// Manager is deprecated but works with -Djava.security.manager=allow). Every permission check walks the
// stack; one frame of candidate code on it (not cut off by a JDK doPrivileged) limits the check to the
// rules below. Refused: exiting or halting the JVM (the verdict is the judge's), starting processes,
// loading native libraries, new class loaders (they could define classes with a trusted code source),
// links (they would defeat the path rules), reading /proc, /sys and /dev (a memory scan for the token),
// writing any code location, replacing the security manager or the policy, stopping threads,
// managing processes, JMX. Everything else is allowed.
package codeeval.judge;

import java.io.File;
import java.io.FilePermission;
import java.net.URL;
import java.nio.file.LinkPermission;
import java.nio.file.Path;
import java.security.CodeSource;
import java.security.Permission;
import java.security.Policy;
import java.security.ProtectionDomain;
import java.security.SecurityPermission;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

@SuppressWarnings("removal")
final class JudgePolicy extends Policy {
    private static final Set<String> DEVICES = Set.of("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom");
    private static final List<String> UNREADABLE = List.of("/proc", "/sys", "/dev");

    private final List<String> trusted;
    private final List<String> code;
    private final Map<ProtectionDomain, Boolean> trust = Collections.synchronizedMap(new IdentityHashMap<>());
    private static volatile boolean closing;

    private JudgePolicy(List<String> trusted, List<String> code) {
        this.trusted = trusted;
        this.code = code;
    }

    /** Installs the policy and the security manager; ``trustedRoots`` is ':'-separated. */
    static void install(String trustedRoots) {
        List<String> trusted = roots(trustedRoots);
        List<String> code = new ArrayList<>(trusted);
        code.addAll(roots(System.getProperty("java.class.path", "")));
        code.addAll(roots(System.getProperty("jdk.module.path", "")));
        JudgePolicy policy = new JudgePolicy(trusted, code);
        Policy.setPolicy(policy);
        System.setSecurityManager(new Guard(policy, Thread.currentThread()));
    }

    /**
     * The access controller for everything but exiting. The application class loader grants its code
     * ``exitVM`` statically (the policy is never asked), so an exit or halt is allowed only from the
     * judge's own thread with no frame of untrusted code on it, hidden frames (lambda proxies) included.
     */
    static final class Guard extends SecurityManager {
        private final JudgePolicy policy;
        private final Thread judge;
        private final StackWalker walker = StackWalker.getInstance(
            Set.of(StackWalker.Option.RETAIN_CLASS_REFERENCE, StackWalker.Option.SHOW_HIDDEN_FRAMES));

        Guard(JudgePolicy policy, Thread judge) {
            this.policy = policy;
            this.judge = judge;
        }

        @Override
        public void checkPermission(Permission p) {
            if (isExit(p)) {
                checkExitAllowed();
            } else {
                super.checkPermission(p);
            }
        }

        @Override
        public void checkPermission(Permission p, Object context) {
            if (isExit(p)) {
                checkExitAllowed();
            } else {
                super.checkPermission(p, context);
            }
        }

        /**
         * The JDK's package-access check (the package.access list and every non-exported package of
         * the boot layer, computed on first use with streams: ~20 ms a run) duplicates what strong
         * module encapsulation already refuses to code outside java.base's exports.
         */
        @Override
        public void checkPackageAccess(String pkg) {
            // module encapsulation decides
        }

        private static boolean isExit(Permission p) {
            return p instanceof RuntimePermission && p.getName().startsWith("exitVM");
        }

        private void checkExitAllowed() {
            if (closing && Thread.currentThread() == judge) {
                return;
            }
            boolean untrusted = Thread.currentThread() != judge || walker.walk(
                frames -> frames.anyMatch(f -> !policy.isTrusted(domainOf(f.getDeclaringClass()))));
            if (untrusted) {
                throw new SecurityException("codeeval: only the judge ends the JVM; return from the test instead");
            }
        }

        private static ProtectionDomain domainOf(Class<?> c) {
            return java.security.AccessController.doPrivileged(
                (java.security.PrivilegedAction<ProtectionDomain>) c::getProtectionDomain);
        }
    }

    /** The judge is about to halt the JVM (after its verdict): its own thread may now exit. */
    static void close() {
        closing = true;
    }

    private static List<String> roots(String list) {
        List<String> out = new ArrayList<>();
        for (String p : list.split(File.pathSeparator)) {
            if (!p.isEmpty()) {
                out.add(normal(p));
            }
        }
        return out;
    }

    private static String normal(String path) {
        return Path.of(path).toAbsolutePath().normalize().toString();
    }

    private static boolean under(String path, String root) {
        return path.equals(root) || path.startsWith(root.endsWith("/") ? root : root + "/");
    }

    private static boolean underAny(String path, List<String> roots) {
        for (String r : roots) {
            if (under(path, r)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean implies(ProtectionDomain domain, Permission permission) {
        return isTrusted(domain) || allowed(permission);
    }

    private boolean isTrusted(ProtectionDomain domain) {
        if (domain == null) {
            return true;
        }
        Boolean known = trust.get(domain);
        if (known == null) {
            known = locationTrusted(domain);
            trust.put(domain, known);
        }
        return known;
    }

    private boolean locationTrusted(ProtectionDomain domain) {
        CodeSource source = domain.getCodeSource();
        URL location = source == null ? null : source.getLocation();
        if (location == null || "jrt".equals(location.getProtocol())) {
            return true;
        }
        return "file".equals(location.getProtocol()) && underAny(normal(location.getPath()), trusted);
    }

    private boolean allowed(Permission p) {
        String name = p.getName();
        if (p instanceof RuntimePermission) {
            return !(name.startsWith("exitVM") || name.startsWith("loadLibrary.") || name.equals("setSecurityManager")
                     || name.equals("createClassLoader") || name.equals("manageProcess") || name.equals("stopThread")
                     || name.equals("setFactory"));
        }
        if (p instanceof FilePermission) {
            return fileAllowed(name, p.getActions());
        }
        if (p instanceof SecurityPermission) {
            return !(name.equals("setPolicy") || name.startsWith("setProperty.") || name.contains("Provider"));
        }
        if (p instanceof LinkPermission) {
            return false;
        }
        String kind = p.getClass().getName();
        return !(kind.startsWith("javax.management.") || kind.equals("java.lang.management.ManagementPermission"));
    }

    private boolean fileAllowed(String name, String actions) {
        if (actions.contains("execute")) {
            return false;
        }
        if ("<<ALL FILES>>".equals(name)) {
            return false;
        }
        String path = normal(name.endsWith("/-") || name.endsWith("/*") ? name.substring(0, name.length() - 2) : name);
        if (underAny(path, UNREADABLE) && !DEVICES.contains(path)) {
            return false;
        }
        boolean changes = actions.contains("write") || actions.contains("delete");
        return !(changes && (underAny(path, code) || path.equals("/")));
    }
}
