// A warm PMD 7 JVM for the analyzer (codeeval.analyzer.pmd_worker starts it, trusted code).
//
// Protocol: one request per stdin line, tab-separated: report path, rule sets (comma-separated, as
// `pmd check -R`), threads, then the absolute paths of the files to analyse. For each request PMD
// runs exactly as `pmd check -d FILES -R RULESETS -f json -r REPORT --no-cache` would (a fresh
// PMDConfiguration and PmdAnalysis, PMD's own JsonRenderer), then one line goes to stdout:
// "ok" or "error <message>". Loaded rule sets are kept per rule-set list, so a warm request pays
// only parsing and rules. Everything PMD logs goes to stderr. EOF on stdin ends the JVM.
// Run as a single-file source program: java -cp PMD_LIB/* PmdWorker.java (no build step).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import net.sourceforge.pmd.PMDConfiguration;
import net.sourceforge.pmd.PmdAnalysis;
import net.sourceforge.pmd.lang.rule.RuleSet;
import net.sourceforge.pmd.renderers.JsonRenderer;

public final class PmdWorker {
    private PmdWorker() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream protocol = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Map<String, List<RuleSet>> ruleSets = new HashMap<>();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            try {
                analyse(line.split("\t"), ruleSets);
                protocol.println("ok");
            } catch (Exception | StackOverflowError e) {
                protocol.println("error " + (e.getClass().getSimpleName() + ": " + e.getMessage()).replace('\n', ' '));
            }
        }
    }

    private static void analyse(String[] fields, Map<String, List<RuleSet>> cache) throws Exception {
        if (fields.length < 4) {
            throw new IllegalArgumentException("request needs report, rule sets, threads and at least one file");
        }
        PMDConfiguration config = new PMDConfiguration();
        config.setThreads(Integer.parseInt(fields[2]));
        config.setIgnoreIncrementalAnalysis(true);
        Path report = Paths.get(fields[0]);
        try (PmdAnalysis pmd = PmdAnalysis.create(config); Writer out = Files.newBufferedWriter(report)) {
            List<RuleSet> loaded = cache.get(fields[1]);
            if (loaded == null) {
                loaded = pmd.newRuleSetLoader().loadFromResources(Arrays.asList(fields[1].split(",")));
                cache.put(fields[1], loaded);
            }
            pmd.addRuleSets(loaded);
            for (int i = 3; i < fields.length; i++) {
                pmd.files().addFile(Paths.get(fields[i]));
            }
            JsonRenderer renderer = new JsonRenderer();
            renderer.setWriter(out);
            pmd.addRenderer(renderer);
            pmd.performAnalysis();
        }
    }
}
