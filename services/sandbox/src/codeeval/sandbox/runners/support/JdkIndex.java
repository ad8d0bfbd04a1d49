// Runs on the HOST at service start (never in a sandbox): prints "package.Type" for every public
// top-level type of every package the java.se modules export to everyone. The Java runner uses it to
// turn a test's on-demand imports into single-type imports and to keep candidate types from
// shadowing JDK types. Run with --limit-modules java.se. Cost: ~1-2 s once.
import java.lang.module.ModuleDescriptor;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;
import java.util.stream.Stream;

public final class JdkIndex {
    private JdkIndex() {}

    public static void main(String[] args) throws Exception {
        FileSystem jrt = FileSystems.getFileSystem(URI.create("jrt:/"));
        TreeSet<String> out = new TreeSet<>();
        for (Module m : ModuleLayer.boot().modules()) {
            ModuleDescriptor d = m.getDescriptor();
            if (d == null || !d.name().startsWith("java.")) {
                continue;
            }
            for (ModuleDescriptor.Exports e : d.exports()) {
                if (e.isQualified()) {
                    continue;
                }
                Path dir = jrt.getPath("/modules", d.name(), e.source().replace('.', '/'));
                try (Stream<Path> files = Files.list(dir)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        String file = f.getFileName().toString();
                        if (!file.endsWith(".class") || file.contains("$") || file.contains("-")) {
                            continue;
                        }
                        String name = e.source() + "." + file.substring(0, file.length() - 6);
                        try {
                            if (Modifier.isPublic(Class.forName(name, false, ClassLoader.getSystemClassLoader()).getModifiers())) {
                                out.add(name);
                            }
                        } catch (Throwable skip) {
                            // not loadable here: not a type a test can use
                        }
                    }
                }
            }
        }
        StringBuilder text = new StringBuilder();
        for (String n : out) {
            text.append(n).append('\n');
        }
        System.out.print(text);
    }
}
