// Runs INSIDE the sandbox, in the judge, after the tests passed: a test that compares with the
// candidate's result as receiver (s.f().equals(expected), HumanEval-X's usual form) runs the
// candidate's equals. A candidate class that is a JDK value or collection type (Collection, Map,
// Map.Entry, Number, CharSequence) and declares its own equals, hashCode or compareTo could make that
// comparison lie, so such a class voids the pass. Cost: a directory listing of the candidate's
// package and a look at each of its classes (loaded without initialisation).
package codeeval.judge;

import java.io.File;
import java.lang.reflect.Method;
import java.util.Collection;
import java.util.Map;

final class ValueTypes {
    private static final Class<?>[] VALUE_TYPES = {
        Collection.class, Map.class, Map.Entry.class, Number.class, CharSequence.class,
    };

    private ValueTypes() {}

    /** Why the candidate's package ``pkg`` has a lying-capable value type, or null. */
    static String liar(String pkg) {
        for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            String[] files = new File(entry, pkg.replace('.', '/')).list();
            if (files == null) {
                continue;
            }
            for (String file : files) {
                if (!file.endsWith(".class")) {
                    continue;
                }
                String name = pkg + "." + file.substring(0, file.length() - 6);
                try {
                    String why = check(Class.forName(name, false, ClassLoader.getSystemClassLoader()));
                    if (why != null) {
                        return why;
                    }
                } catch (Throwable unloadable) {
                    return name + " cannot be checked: " + unloadable;
                }
            }
        }
        return null;
    }

    private static String check(Class<?> c) {
        boolean value = false;
        for (Class<?> v : VALUE_TYPES) {
            value |= v.isAssignableFrom(c);
        }
        if (!value || c.isInterface()) {
            return null;
        }
        for (Method m : c.getDeclaredMethods()) {
            String n = m.getName();
            int arity = m.getParameterCount();
            if ((n.equals("equals") && arity == 1) || (n.equals("hashCode") && arity == 0)
                || (n.equals("compareTo") && arity == 1)) {
                return c.getName() + " is a JDK value or collection type with its own " + n
                       + ": a test's comparison would run the candidate's code";
            }
        }
        return null;
    }
}
