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
import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ClassFileImporter;
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
 * carry exactly one kind annotation and no raw {@link Tag}. And no class uses a test class but
 * the test itself (and its nested classes): what tests share lives in {@code org.jcpg.testsupport}.
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

    @Test
    void noClassUsesAnotherTestClass() throws URISyntaxException {
        Path root = Path.of(TestKindsTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> uses = new ArrayList<>();
        int tests = 0;
        for (JavaClass type : new ClassFileImporter().importPath(root)) {
            if (isTest(type)) {
                tests++;
            }
            for (Dependency dependency : type.getDirectDependenciesFromSelf()) {
                JavaClass target = dependency.getTargetClass();
                if (isTest(target) && !outermost(target).equals(outermost(type))) {
                    uses.add(dependency.getDescription());
                }
            }
        }
        // The import itself works: it sees the test classes, so an empty directory cannot pass.
        assertThat(tests).as("test classes seen").isGreaterThan(10);
        assertThat(uses).as("uses of a test class by another class (move what is shared to testsupport)").isEmpty();
    }

    private static JavaClass outermost(JavaClass type) {
        JavaClass outer = type;
        while (outer.getEnclosingClass().isPresent()) {
            outer = outer.getEnclosingClass().get();
        }
        return outer;
    }

    private static boolean isTest(JavaClass type) {
        JavaClass outer = outermost(type);
        return KINDS.stream().anyMatch(kind -> outer.isAnnotatedWith(kind));
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
