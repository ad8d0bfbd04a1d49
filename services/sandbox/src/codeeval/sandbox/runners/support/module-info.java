// The Java judge: a named module whose package is neither exported nor opened, so a candidate (on
// the class path, in the unnamed module) can load its classes but can neither call them nor reach
// their fields by reflection (setAccessible across modules is refused).
module codeeval.judge {
}
