// Runs INSIDE the sandbox, in the judge, before any candidate code: reads the IL of every method of
// the candidate's library (it runs none of it) and refuses what could reach the judge's memory, files
// or process: P/Invoke and extern methods, explicit layouts (overlapping an object with an IntPtr),
// System.Runtime.InteropServices (Marshal, GCHandle), reflection (System.Reflection and Type's member
// look-ups; a type's name, equality and the like stay allowed; Activator, AppDomain,
// Delegate.CreateDelegate/DynamicInvoke, dynamic), files (System.IO beyond in-memory streams and
// readers/writers on streams), processes, Mono.* and the network. Pointers need mcs -unsafe, which
// the runner never passes. Cost: one pass over the candidate's IL.
using System;
using System.Collections.Generic;
using System.Reflection;
using System.Reflection.Emit;

namespace CodeevalJudge
{
    public static class CandidateCheck
    {
        static readonly string[] DeniedNamespaces = {
            "System.Runtime.InteropServices", "System.Reflection", "System.Runtime.Remoting", "System.Dynamic",
            "Microsoft.CSharp", "System.Diagnostics.Process", "System.Net", "System.IO.MemoryMappedFiles",
            "System.IO.Pipes", "Mono", "System.Runtime.Loader", "System.Security.Permissions",
        };
        static readonly HashSet<string> DeniedTypes = new HashSet<string> {
            "System.Activator", "System.AppDomain", "System.Diagnostics.Process", "System.Diagnostics.ProcessStartInfo",
            "System.Runtime.CompilerServices.Unsafe",
            "System.IO.File", "System.IO.FileInfo", "System.IO.FileStream", "System.IO.Directory",
            "System.IO.DirectoryInfo", "System.IO.FileSystemInfo", "System.IO.DriveInfo", "System.IO.FileSystemWatcher",
            "System.IO.UnmanagedMemoryStream", "System.IO.UnmanagedMemoryAccessor",
        };
        static readonly HashSet<string> TypeMembersAllowed = new HashSet<string> {
            "GetTypeFromHandle", "op_Equality", "op_Inequality", "Equals", "GetHashCode", "ToString", "get_FullName",
            "get_Name", "get_Namespace", "IsAssignableFrom", "IsInstanceOfType", "get_IsValueType", "get_IsArray",
            "get_IsEnum", "GetElementType", "get_IsGenericType", "GetGenericArguments", "get_IsPrimitive",
            "GetTypeCode", "get_IsClass", "get_IsInterface",
        };
        static readonly Dictionary<short, OpCode> OpCodesByValue = LoadOpCodes();

        static Dictionary<short, OpCode> LoadOpCodes()
        {
            Dictionary<short, OpCode> table = new Dictionary<short, OpCode>();
            foreach (FieldInfo f in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
            {
                OpCode op = (OpCode)f.GetValue(null);
                table[op.Value] = op;
            }
            return table;
        }

        /// Why the candidate is refused, or null.
        public static string Refusal(Assembly candidate)
        {
            Type[] types;
            try { types = candidate.GetTypes(); }
            catch (ReflectionTypeLoadException e) { return "a type of the candidate does not load: " + e.LoaderExceptions[0].Message; }
            foreach (Type t in types)
            {
                if ((t.Attributes & TypeAttributes.ExplicitLayout) != 0) return t.FullName + " has an explicit layout";
                const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static
                    | BindingFlags.Instance | BindingFlags.DeclaredOnly;
                List<MethodBase> methods = new List<MethodBase>(t.GetMethods(all));
                methods.AddRange(t.GetConstructors(all));
                foreach (MethodBase m in methods)
                {
                    string why = MethodRefusal(t, m);
                    if (why != null) return t.FullName + "." + m.Name + ": " + why;
                }
            }
            return null;
        }

        static string MethodRefusal(Type owner, MethodBase method)
        {
            if ((method.Attributes & MethodAttributes.PinvokeImpl) != 0) return "P/Invoke";
            MethodImplAttributes impl = method.GetMethodImplementationFlags();
            if ((impl & (MethodImplAttributes.InternalCall | MethodImplAttributes.Native | MethodImplAttributes.Unmanaged)) != 0)
                return "extern method";
            MethodBody body = method.GetMethodBody();
            byte[] il = body == null ? null : body.GetILAsByteArray();
            if (il == null) return null;
            Type[] typeArgs = owner.IsGenericType ? owner.GetGenericArguments() : null;
            Type[] methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
            int i = 0;
            while (i < il.Length)
            {
                short value = il[i] == 0xFE && i + 1 < il.Length ? (short)(0xFE00 | il[i + 1]) : (short)il[i];
                OpCode op;
                if (!OpCodesByValue.TryGetValue(value, out op)) return "unknown IL opcode";
                i += op.Size;
                int operand = OperandSize(op.OperandType, il, i);
                if (op.OperandType == OperandType.InlineMethod || op.OperandType == OperandType.InlineField
                    || op.OperandType == OperandType.InlineType || op.OperandType == OperandType.InlineTok)
                {
                    MemberInfo target;
                    try { target = method.Module.ResolveMember(BitConverter.ToInt32(il, i), typeArgs, methodArgs); }
                    catch (Exception) { return "an IL reference that does not resolve"; }
                    string why = MemberRefusal(target);
                    if (why != null) return why;
                }
                i += operand;
            }
            return null;
        }

        static int OperandSize(OperandType kind, byte[] il, int at)
        {
            switch (kind)
            {
                case OperandType.InlineNone: return 0;
                case OperandType.ShortInlineBrTarget: case OperandType.ShortInlineI: case OperandType.ShortInlineVar: return 1;
                case OperandType.InlineVar: return 2;
                case OperandType.InlineI8: case OperandType.InlineR: return 8;
                case OperandType.InlineSwitch: return 4 + 4 * BitConverter.ToInt32(il, at);
                default: return 4;
            }
        }

        static string MemberRefusal(MemberInfo target)
        {
            Type type = target as Type ?? target.DeclaringType;
            if (type == null) return null;
            while (type.IsNested) type = type.DeclaringType;
            string full = type.FullName ?? type.Name;
            string ns = type.Namespace ?? "";
            if (full == "System.Reflection.MemberInfo" && !(target is Type) && TypeMembersAllowed.Contains(target.Name))
                return null;  // typeof(X).Name and the like

            foreach (string denied in DeniedNamespaces)
                if (ns == denied || ns.StartsWith(denied + ".")) return "uses " + full + " (" + denied + ")";
            if (DeniedTypes.Contains(full)) return "uses " + full;
            if (full == "System.Type" && !(target is Type) && !TypeMembersAllowed.Contains(target.Name))
                return "uses System.Type." + target.Name + " (reflection)";
            if (full == "System.Delegate" && (target.Name == "CreateDelegate" || target.Name == "DynamicInvoke"))
                return "uses System.Delegate." + target.Name;
            if ((full == "System.IO.StreamReader" || full == "System.IO.StreamWriter") && target is ConstructorInfo)
            {
                ParameterInfo[] ps = ((ConstructorInfo)target).GetParameters();
                if (ps.Length > 0 && ps[0].ParameterType == typeof(string)) return "opens a file (" + full + ")";
            }
            return null;
        }
    }
}
