// Runs INSIDE the sandbox, in the judge, after the tests passed: a test that compares with the
// candidate's result as receiver (s.f().equals(expected), HumanEval-X's usual form) runs the
// candidate's equals. A candidate class that is a JDK value or collection type (Collection, Map,
// Map.Entry, Number, CharSequence) and declares its own equals, hashCode or compareTo could make that
// comparison lie, so such a class voids the pass. The runner names the candidate's classes (it listed
// them after javac); each is loaded without initialisation. Cost: well under a millisecond (no file
// access, no permission check: the judge and the candidate share the application class loader).
package codeeval.judge;

import java.lang.reflect.Method;
import java.util.Collection;
import java.util.Map;

final class ValueTypes {
    private static final Class<?>[] VALUE_TYPES = {
        Collection.class, Map.class, Map.Entry.class, Number.class, CharSequence.class,
    };

    private ValueTypes() {}

    /** Why one of the candidate's classes (``names``, ','-separated) could lie in a comparison, or null. */
    static String liar(String names) {
        for (String name : names.split(",")) {
            if (name.isEmpty()) {
                continue;
            }
            try {
                String why = check(Class.forName(name, false, ClassLoader.getSystemClassLoader()));
                if (why != null) {
                    return why;
                }
            } catch (Throwable unloadable) {
                return name + " cannot be checked: " + unloadable;
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
