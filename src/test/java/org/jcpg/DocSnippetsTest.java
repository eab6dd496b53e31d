package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every Java snippet in {@code README.md} and {@code docs/*.md} compiles against the
 * library: a reader who copies one gets code that builds, imports included.
 *
 * <p>The test takes every fenced block whose info string starts with {@code java} and
 * compiles it in-process (javac through {@link ToolProvider}, which needs no module
 * beyond {@code java.base}) against this JVM's class path (the library's classes and the examples; the snippets use only public API).
 * Two kinds of block:
 * <ul>
 *   <li>{@code ```java}: a whole compilation unit, compiled as it is (a file named after
 *       its public class, if it has one).</li>
 *   <li>{@code ```java fragment}: statements. Its leading {@code import} lines stay
 *       imports (they must be complete: nothing is imported for it); the rest becomes
 *       the body of a method {@code void snippet(...) throws Exception} in a class of
 *       its own. Variables the fragment uses without declaring them are declared on
 *       its first lines as comments, one per line, {@code // given: byte[] order},
 *       and become the method's parameters. That is all the context there is.</li>
 * </ul>
 * A compiler error is reported with the Markdown file and line of the snippet.
 * To check a single file: {@code -Djcpg.docs=path/to/file.md} (relative to the project).
 */
@UnitTest
class DocSnippetsTest {
    private static final Pattern FENCE = Pattern.compile("^(\\s*)```\\s*java(?:\\s+(\\S+))?\\s*$");
    private static final Pattern GIVEN = Pattern.compile("^//\\s*given:\\s*(.+?);?\\s*$");
    private static final Pattern PUBLIC_TYPE =
            Pattern.compile("(?m)^public\\s+(?:final\\s+|abstract\\s+|sealed\\s+)*(?:class|record|interface|enum)\\s+(\\w+)");

    /** One fenced block: where it starts (1-based line of its first code line) and its text. */
    record Snippet(Path file, int firstLine, boolean fragment, List<String> lines) {
        String where() {
            return file + ":" + firstLine;
        }
    }

    /** The source handed to the compiler, and how many lines were put before the snippet's first line. */
    record Unit(String className, String source, int linesBefore) {}

    @TestFactory
    Stream<DynamicTest> everyJavaSnippetCompiles() throws IOException {
        List<Snippet> snippets = new ArrayList<>();
        for (Path file : documents()) {
            snippets.addAll(extract(file, Files.readAllLines(file)));
        }
        assertThat(snippets).as("java snippets in README.md and docs/").isNotEmpty();
        return snippets.stream().map(s -> DynamicTest.dynamicTest(s.where(), () -> {
            List<String> errors = compile(s);
            assertThat(errors).as("compiler errors in the snippet at " + s.where()).isEmpty();
        }));
    }

    @Test
    void aFragmentWithoutItsImportsFails() {
        Snippet missingImport = new Snippet(Path.of("test.md"), 10, true,
                List.of("// given: byte[] order", "Duration timeout = Duration.ofSeconds(1);"));
        assertThat(compile(missingImport)).isNotEmpty()
                .allSatisfy(error -> assertThat(error).startsWith("test.md:11: cannot find symbol").contains("Duration"));
        Snippet complete = new Snippet(Path.of("test.md"), 10, true,
                List.of("import java.time.Duration;", "// given: byte[] order", "Duration timeout = Duration.ofSeconds(order.length);"));
        assertThat(compile(complete)).isEmpty();
    }

    @Test
    void blocksAreFoundWithTheirKindAndLine() {
        List<String> md = List.of("text", "```java", "class A {}", "```", "- item", "  ```java fragment",
                "  int x = 1;", "  ```", "```sh", "echo", "```");
        List<Snippet> found = extract(Path.of("x.md"), md);
        assertThat(found).extracting(Snippet::firstLine).containsExactly(3, 7);
        assertThat(found).extracting(Snippet::fragment).containsExactly(false, true);
        assertThat(found.get(1).lines()).containsExactly("int x = 1;");
    }

    private static List<Path> documents() throws IOException {
        String only = System.getProperty("jcpg.docs");
        if (only != null && !only.isBlank()) {
            return List.of(Path.of(only));
        }
        List<Path> files = new ArrayList<>();
        files.add(Path.of("README.md"));
        try (Stream<Path> docs = Files.list(Path.of("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        return files;
    }

    static List<Snippet> extract(Path file, List<String> lines) {
        List<Snippet> snippets = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            Matcher fence = FENCE.matcher(lines.get(i));
            if (!fence.matches()) {
                continue;
            }
            String indent = fence.group(1);
            String kind = fence.group(2);
            if (kind != null && !kind.equals("fragment")) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": unknown snippet kind '" + kind
                        + "' (```java or ```java fragment)");
            }
            List<String> body = new ArrayList<>();
            int start = i + 1;
            for (i = start; i < lines.size() && !lines.get(i).strip().equals("```"); i++) {
                String line = lines.get(i);
                body.add(line.startsWith(indent) ? line.substring(indent.length()) : line.stripLeading());
            }
            snippets.add(new Snippet(file, start + 1, kind != null, body));
        }
        return snippets;
    }

    static Unit unit(Snippet s) {
        String name = "Snippet_" + s.firstLine();
        if (!s.fragment()) {
            String source = String.join("\n", s.lines()) + "\n";
            Matcher publicType = PUBLIC_TYPE.matcher(source);
            return new Unit(publicType.find() ? publicType.group(1) : name, source, 0);
        }
        StringBuilder head = new StringBuilder();
        List<String> parameters = new ArrayList<>();
        int i = 0;
        for (; i < s.lines().size(); i++) {
            String line = s.lines().get(i).strip();
            Matcher given = GIVEN.matcher(line);
            if (line.startsWith("import ")) {
                head.append(line).append(' ');
            } else if (given.matches()) {
                parameters.add(given.group(1));
            } else if (!line.isEmpty()) {
                break;
            }
        }
        // The wrapper takes one line, so the fragment's line i is line i + 1 of the unit.
        head.append("class ").append(name).append(" { void snippet(").append(String.join(", ", parameters))
                .append(") throws Exception {");
        StringBuilder source = new StringBuilder(head).append('\n');
        for (int k = 0; k < s.lines().size(); k++) {
            boolean header = k < i;
            source.append(header ? "" : s.lines().get(k)).append('\n');
        }
        source.append("}}\n");
        return new Unit(name, source.toString(), 1);
    }

    private static final Pattern ERROR = Pattern.compile("^.*\\.java:(\\d+): error: (.*)$");

    /** Compiles the snippet; returns its errors as "file.md:line: message", or nothing. */
    static List<String> compile(Snippet s) {
        Unit unit = unit(s);
        ToolProvider javac = ToolProvider.findFirst("javac").orElseThrow(() -> new IllegalStateException("no javac: run the tests on a JDK"));
        Path dir = null;
        try {
            dir = Files.createTempDirectory("jcpg-snippet");
            Path source = dir.resolve(unit.className() + ".java");
            Files.writeString(source, unit.source());
            StringWriter messages = new StringWriter();
            int status;
            try (PrintWriter out = new PrintWriter(messages)) {
                status = javac.run(out, out, "--release", "22", "-proc:none", "-implicit:none", "-Xlint:none",
                        "-d", dir.resolve("classes").toString(), "-classpath", System.getProperty("java.class.path"),
                        source.toString());
            }
            List<String> errors = new ArrayList<>();
            for (String line : messages.toString().lines().toList()) {
                Matcher error = ERROR.matcher(line);
                if (error.matches()) {
                    long at = s.firstLine() + Long.parseLong(error.group(1)) - 1 - unit.linesBefore();
                    errors.add(s.file() + ":" + at + ": " + error.group(2));
                } else if (line.strip().startsWith("symbol:") && !errors.isEmpty()) {
                    // "cannot find symbol" names the symbol on a line of its own
                    errors.set(errors.size() - 1, errors.getLast() + " (" + line.strip() + ")");
                }
            }
            if (status != 0 && errors.isEmpty()) {
                errors.add(s.where() + ": javac failed: " + messages);
            }
            return errors;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } finally {
            if (dir != null) {
                deleteQuietly(dir);
            }
        }
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }
}
