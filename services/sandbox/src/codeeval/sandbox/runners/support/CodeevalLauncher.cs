// Runs INSIDE the sandbox: the trusted judge around a C# candidate, compiled once per service start.
// usage: mono CodeevalLauncher.exe ASSEMBLY TYPE [CANDIDATE]
//   ASSEMBLY: the tests (or, in run mode, the candidate's program); TYPE: the exact full name of the
//   type whose static Main runs (empty: the assembly's only type with one); CANDIDATE: the candidate's
//   library, whose code is checked (CandidateCheck.cs) before any of it runs.
// Same protocol as the Java judge: the first stdin line is the token, kept only in this frame's locals;
// START before the tests, DONE + token only after they all passed. Exit codes: 101 an assertion failed
// (CodeevalJudge.AssertionFailedException, or an exception type named *Assert*), 102 any other
// exception, 104 no such type or Main, 105 the candidate uses an API the judge refuses. The process ends
// with _exit: no finalizer or ProcessExit handler of the candidate runs after the verdict.
using System;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

public static class CodeevalLauncher
{
    [DllImport("libc", EntryPoint = "_exit")]
    static extern void HardExit(int code);

    public static int Main(string[] args)
    {
        Stream stdin = Console.OpenStandardInput();
        StringBuilder token = new StringBuilder();
        int c;
        while ((c = stdin.ReadByte()) != -1 && c != '\n') token.Append((char)c);
        StreamWriter channel = new StreamWriter(Console.OpenStandardError());
        channel.AutoFlush = true;
        channel.Write("\u001eCODEEVAL-START\n");
        int code = Run(args);
        try { Console.Out.Flush(); Console.Error.Flush(); } catch (Exception) { }
        if (code == 0) channel.Write("\n\u001eCODEEVAL-DONE " + token + "\n");
        channel.Flush();
        HardExit(code);
        return code;
    }

    static int Run(string[] args)
    {
        try
        {
            if (args.Length > 2 && args[2].Length > 0)
            {
                string refused = CodeevalJudge.CandidateCheck.Refusal(Assembly.LoadFrom(args[2]));
                if (refused != null)
                {
                    Console.Error.WriteLine("refused: " + refused);
                    return 105;
                }
            }
            MethodInfo main = FindMain(Assembly.LoadFrom(args[0]), args.Length > 1 ? args[1] : "");
            if (main == null) return 104;
            object[] parameters = main.GetParameters().Length == 0 ? null : new object[] { new string[0] };
            object returned = main.Invoke(null, parameters);
            return returned is int ? (int)returned : 0;
        }
        catch (TargetInvocationException e)
        {
            Exception inner = e.InnerException ?? e;
            Report(inner);
            return IsAssertion(inner) ? 101 : 102;
        }
        catch (Exception e)
        {
            Report(e);
            return 102;
        }
    }

    static bool IsAssertion(Exception e)
    {
        return e is CodeevalJudge.AssertionFailedException || e.GetType().Name.Contains("Assert");
    }

    static void Report(Exception e)
    {
        try { Console.Error.WriteLine(e); }
        catch (Exception) { Console.Error.WriteLine("uncaught " + e.GetType().FullName); }
    }

    /// The static Main of exactly ``name`` in ``assembly`` (never another assembly's type); with no
    /// name, the assembly's only type that has one.
    static MethodInfo FindMain(Assembly assembly, string name)
    {
        const BindingFlags flags = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        if (name.Length > 0)
        {
            Type t = assembly.GetType(name, false, false);
            MethodInfo m = t == null ? null : t.GetMethod("Main", flags);
            if (m == null) Console.Error.WriteLine("no static Main in a type named exactly " + name);
            return m;
        }
        MethodInfo found = null;
        foreach (Type t in assembly.GetTypes())
        {
            MethodInfo m = t.GetMethod("Main", flags);
            if (m == null) continue;
            if (found != null)
            {
                Console.Error.WriteLine("more than one type with a static Main: name the entry point");
                return null;
            }
            found = m;
        }
        if (found == null) Console.Error.WriteLine("no type with a static Main");
        return found;
    }
}

namespace CodeevalJudge
{
    /// Thrown by the rewritten Debug.Assert / Trace.Assert of a test (they print nothing under mono).
    public sealed class AssertionFailedException : global::System.Exception
    {
        public AssertionFailedException(string message) : base(message) { }
    }

    public static class Check
    {
        public static void Assert(bool condition) { Assert(condition, "assertion failed"); }
        public static void Assert(bool condition, string message) { if (!condition) throw new AssertionFailedException(message); }
        public static void Assert(bool condition, string message, string detail) { Assert(condition, message + " " + detail); }
        public static void Fail(string message) { throw new AssertionFailedException(message); }
        public static void Fail(string message, string detail) { Fail(message + " " + detail); }
    }
}
