// The one exported package of the judge module, and nothing a candidate can use: a class with no
// members. It exists because a module that exports a package is a default root of a class-path
// launch (`java -cp ... codeeval.judge.CodeevalLauncher`), so the judge is in the boot layer without
// `-m` or `--add-modules`, either of which turns off CDS's archived module graph (~8 ms a run). The
// launcher, the policy and the secrets stay in the package `codeeval.judge`, neither exported nor
// opened: the JVM's launcher finds and calls the main class by name, which needs no export.
package codeeval.judge.boot;

public final class JudgeRoot {
    private JudgeRoot() {}
}
