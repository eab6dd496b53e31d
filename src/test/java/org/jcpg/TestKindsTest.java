package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.jcpg.testsupport.ClusterTest;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.PackagingTest;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestTemplate;
import org.junit.jupiter.params.ParameterizedTest;

/**
 * The build selects a test's suite by its tag alone (pom.xml), so a test class without a kind
 * would run nowhere and one with two would run twice. Every compiled class with test methods
 * (in the directory this class was loaded from: target/test-classes, or the benchmark's) must
 * carry exactly one kind annotation and no raw {@link Tag}.
 */
@UnitTest
class TestKindsTest {
    private static final Set<Class<? extends Annotation>> KINDS =
            Set.of(UnitTest.class, NodeTest.class, ClusterTest.class, PackagingTest.class);
    private static final Set<Class<? extends Annotation>> TEST_METHODS = Set.of(
            Test.class, ParameterizedTest.class, RepeatedTest.class, TestFactory.class, TestTemplate.class);

    @Test
    void everyTestClassHasExactlyOneKind() throws IOException, URISyntaxException, ClassNotFoundException {
        List<Class<?>> testClasses = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        for (Class<?> type : compiledClasses()) {
            if (!hasTestMethods(type)) {
                continue;
            }
            testClasses.add(type);
            List<String> kinds = Arrays.stream(type.getDeclaredAnnotations())
                    .map(Annotation::annotationType)
                    .filter(KINDS::contains)
                    .map(Class::getSimpleName)
                    .toList();
            if (kinds.size() != 1) {
                wrong.add(type.getName() + ": " + (kinds.isEmpty() ? "no kind" : "kinds " + kinds));
            }
            if (type.isAnnotationPresent(Tag.class) || type.isAnnotationPresent(org.junit.jupiter.api.Tags.class)) {
                wrong.add(type.getName() + ": a raw @Tag (state the kind with one testsupport annotation)");
            }
        }
        // The scan itself works: it finds this class, so an empty directory cannot pass.
        assertThat(testClasses).contains(TestKindsTest.class);
        assertThat(wrong)
                .as("test classes need exactly one of @UnitTest, @NodeTest, @ClusterTest, @PackagingTest")
                .isEmpty();
    }

    private static boolean hasTestMethods(Class<?> type) {
        for (Method method : type.getDeclaredMethods()) {
            for (Annotation annotation : method.getDeclaredAnnotations()) {
                if (TEST_METHODS.contains(annotation.annotationType())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Every top-level and nested class compiled into the directory this class came from. */
    private static List<Class<?>> compiledClasses() throws IOException, URISyntaxException, ClassNotFoundException {
        Path root = Path.of(TestKindsTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertThat(root).as("the test classes' directory").isDirectory();
        List<String> names;
        try (Stream<Path> files = Files.walk(root)) {
            names = files.filter(file -> file.toString().endsWith(".class"))
                    .map(file -> root.relativize(file).toString())
                    .filter(name -> !name.endsWith("module-info.class"))
                    .map(name -> name.substring(0, name.length() - ".class".length()).replace('/', '.'))
                    .sorted()
                    .toList();
        }
        List<Class<?>> classes = new ArrayList<>();
        for (String name : names) {
            // Not initialised: a child JVM's main class or a fixture must not start anything here.
            classes.add(Class.forName(name, false, TestKindsTest.class.getClassLoader()));
        }
        return classes;
    }
}
