package org.jcpg.testsupport;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * A test that starts private 3-node clusters ({@code scripts/cluster.sh}); needs root; run last,
 * in a JVM of its own, by surefire execution {@code cluster}.
 *
 * <p>The kind of a test class, and the one way it is stated: every test class carries exactly one
 * of {@link UnitTest}, {@link NodeTest}, {@link ClusterTest} and {@link PackagingTest} (checked by
 * {@code TestKindsTest}). The tag it carries ("cluster") is what the build selects on; class names and
 * packages mean nothing to it.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Tag("cluster")
public @interface ClusterTest {
}
