// Runs INSIDE the sandbox: the trusted wrapper around a C# candidate (compiled together with it by
// mcs, -main:CodeevalLauncher). usage: mono p.exe [CLASS]  (CLASS: the one whose static Main runs
// the tests; default: the only other type with a static Main). Same protocol as harness.py.
// Exit codes: 101 an exception whose type name contains "Assert", 102 any other exception,
// 104 no Main found.
using System;
using System.IO;
using System.Reflection;
using System.Text;

public static class CodeevalLauncher
{
    public static int Main(string[] args)
    {
        Stream stdin = Console.OpenStandardInput();
        StringBuilder token = new StringBuilder();
        int c;
        while ((c = stdin.ReadByte()) != -1 && c != '\n') token.Append((char)c);
        StreamWriter channel = new StreamWriter(Console.OpenStandardError());
        channel.AutoFlush = true;
        channel.Write("\u001eCODEEVAL-START\n");
        int code;
        try
        {
            MethodInfo main = FindMain(args.Length > 0 ? args[0] : "");
            if (main == null)
            {
                Console.Error.WriteLine("no static Main to run the tests");
                code = 104;
            }
            else
            {
                object[] parameters = main.GetParameters().Length == 0 ? null : new object[] { new string[0] };
                object returned = main.Invoke(null, parameters);
                code = returned is int ? (int)returned : 0;
            }
        }
        catch (TargetInvocationException e)
        {
            Exception inner = e.InnerException ?? e;
            Console.Error.WriteLine(inner);
            code = inner.GetType().Name.Contains("Assert") ? 101 : 102;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            code = 102;
        }
        Console.Out.Flush();
        Console.Error.Flush();
        if (code == 0) channel.Write("\n\u001eCODEEVAL-DONE " + token + "\n");
        Environment.Exit(code);
        return code;
    }

    static MethodInfo FindMain(string className)
    {
        const BindingFlags flags = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        foreach (Type t in Assembly.GetExecutingAssembly().GetTypes())
        {
            if (t == typeof(CodeevalLauncher)) continue;
            if (className.Length > 0 && t.FullName != className && t.Name != className) continue;
            MethodInfo m = t.GetMethod("Main", flags);
            if (m != null) return m;
        }
        return null;
    }
}
