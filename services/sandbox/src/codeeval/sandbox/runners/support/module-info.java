// The Java judge: a named module whose package is neither exported nor opened, so a candidate (on
// the class path, in the unnamed module) can load its classes but can neither call them nor reach
// their fields by reflection (setAccessible across modules is refused). It requires java.se so that
// `java -m codeeval.judge` puts the Java SE API in the boot layer for the candidate (and nothing
// beyond what java.se and its service providers need: no jdk.unsupported).
module codeeval.judge {
    requires java.se;
}
