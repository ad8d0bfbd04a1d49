// The Java judge: a named module whose package `codeeval.judge` is neither exported nor opened, so a
// candidate (on the class path, in the unnamed module) can load its classes but can neither call them
// nor reach their fields by reflection (setAccessible across modules is refused). It requires java.se
// so that the Java SE API is in the boot layer for the candidate (and nothing beyond what java.se and
// its service providers need: no jdk.unsupported). Its only export, `codeeval.judge.boot`, holds an
// empty class (JudgeRoot.java): it makes the module a default root of a class-path launch.
module codeeval.judge {
    requires java.se;
    exports codeeval.judge.boot;
}
